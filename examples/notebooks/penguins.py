# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Penguins: the lesson's first network, and what deepwise does with the same data
#
# The lesson's classification episode ("Classification by a neural network using Keras") trains a network with one
# hidden layer of 10 units on four body measurements of Palmer penguins, on an 80/20 split (`random_state=0`,
# stratified). It reports **41 of 69 test penguins right (59 %)**, and a confusion matrix in which **Chinstrap is
# never predicted**. This notebook runs the lesson's code as it is (Keras 3, on this machine), then deepwise on the
# very same test penguins, and shows why the two differ.
#
# Open it in Jupyter with `jupytext --to notebook penguins.py` (or the jupytext extension), or run it as a script
# from this folder: `python penguins.py`.

# %%
from pathlib import Path

import deepwise  # first: it chooses Keras' backend (JAX), which must happen before Keras is imported
import keras
import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split

DATA = Path("..", "penguins", "penguins.csv")  # the data ships with deepwise (examples/penguins)
LESSON = {"correct": 41, "test": 69, "chinstrap_predicted": 0}  # what the lesson reports

# %% [markdown]
# ## 1. The lesson's network, as the lesson writes it
# Island and sex dropped, rows with missing values dropped, the species one-hot encoded; the measurements go into the
# network **as they are** (millimetres and grams).

# %%
penguins = pd.read_csv(DATA)
penguins_filtered = penguins.drop(columns=["island", "sex", "year"]).dropna()
features = penguins_filtered.drop(columns=["species"])
target = pd.get_dummies(penguins_filtered["species"])
X_train, X_test, y_train, y_test = train_test_split(
    features, target, test_size=0.2, random_state=0, shuffle=True, stratify=target
)

keras.utils.set_random_seed(2)
inputs = keras.Input(shape=(X_train.shape[1],))
hidden = keras.layers.Dense(10, activation="relu")(inputs)
outputs = keras.layers.Dense(3, activation="softmax")(hidden)
lesson_model = keras.Model(inputs=inputs, outputs=outputs)
lesson_model.compile(optimizer="adam", loss=keras.losses.CategoricalCrossentropy())
lesson_model.fit(X_train.to_numpy("float32"), y_train.to_numpy("float32"), epochs=100, verbose=0)

classes = list(target.columns)
truth = y_test.to_numpy().argmax(axis=1)
lesson_pred = lesson_model.predict(X_test.to_numpy("float32"), verbose=0).argmax(axis=1)
lesson_correct = int((lesson_pred == truth).sum())
reported = LESSON["correct"] / LESSON["test"]
print(f"lesson's network, as reported:  {LESSON['correct']}/{LESSON['test']} = {reported:.0%}")
print(f"lesson's network, on this run:  {lesson_correct}/{len(truth)} = {lesson_correct / len(truth):.0%}")
print(pd.DataFrame(confusion_matrix(truth, lesson_pred, labels=range(3)), index=classes, columns=classes))

# %% [markdown]
# Your numbers may differ from the lesson's: the same seed gives other random weights under another Keras backend
# or version. What does not change is the cause: body mass is in the thousands (grams), the bill lengths in the tens,
# so the first updates are driven by body mass alone, and 100 epochs of Adam at its default step are not enough to
# undo that. Chinstraps and Adelies weigh about the same, so a network that mostly reads body mass cannot tell them
# apart.

# %% [markdown]
# ## 2. deepwise on the same test penguins
# deepwise also needs a validation split (for early stopping and its uncertainty estimates): it takes 15 % of the
# lesson's training penguins, and the 69 test penguins stay exactly the lesson's. `data.split.column` says which row
# goes where.

# %%
split = pd.Series("train", index=penguins_filtered.index)
split[X_test.index] = "test"
validation = train_test_split(X_train.index, test_size=0.15, random_state=0, stratify=y_train)[1]
split[validation] = "validation"
table = penguins_filtered.assign(split=split)
table.to_csv("penguins_lesson_split.csv", index=False)

run = deepwise.train(
    {"problem": {"target": "species"},
     "data": {"path": "penguins_lesson_split.csv", "split": {"column": "split"}},
     "training": {"report": False}},
    runs_dir="runs", verbose=False,
)  # fmt: skip
test = run.metrics["test"]
matrix = test["confusion_matrix"]
deepwise_correct = int(np.trace(np.array(matrix["matrix"])))
print(f"deepwise:                       {deepwise_correct}/{test['n']} = {test['accuracy']:.0%}")
print(pd.DataFrame(matrix["matrix"], index=matrix["labels"], columns=matrix["labels"]))
print("verdict:", run.metrics["verdict"]["code"], "-", run.metrics["verdict"]["message"])

# %% [markdown]
# ## 3. Side by side, and why
# deepwise standardizes every input on the training penguins (mean 0, standard deviation 1), so millimetres and grams
# weigh alike from the first step; it stops when the validation loss stops improving instead of after a fixed 100
# epochs; and it scores simple models on the same 69 penguins, because a network is only worth it when it beats them.

# %%
chinstrap = classes.index("Chinstrap")
side_by_side = pd.DataFrame(
    {
        "correct of 69": [LESSON["correct"], lesson_correct, deepwise_correct],
        "Chinstrap predicted": [
            LESSON["chinstrap_predicted"],
            int((lesson_pred == chinstrap).sum()),
            int(np.array(matrix["matrix"])[:, matrix["labels"].index("Chinstrap")].sum()),
        ],
    },
    index=["lesson (reported)", "lesson's code (this run)", "deepwise"],
)
baselines = {name: round(b["accuracy"], 3) for name, b in run.metrics["baselines"].items()}
print(side_by_side)
print("baselines on the same test penguins (accuracy):", baselines)
