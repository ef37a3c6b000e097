"""Rendering a run for people: report blocks and sections, plots, HTML and Markdown templates, and the report
context. The sections a kind of data adds live with that kind (:mod:`deepwise.kinds`); :mod:`deepwise.report`
puts the report together."""
