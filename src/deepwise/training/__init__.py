"""Step 6, training the network: compiling it (:mod:`.model`), its callbacks (:mod:`.callbacks`) and checkpoints
(:mod:`.checkpoint`), the fit loop with fine-tuning and interruptions (:mod:`.loop`), and measuring and writing the
run afterwards (:mod:`.finish`). It feeds Keras through the kind of data's :class:`~deepwise.kinds.base.Prepared`,
without knowing which kind that is."""
