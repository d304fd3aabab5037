"""A synthetic clinical data set shaped like the Pima diabetes table, written as a raw hospital CSV.

Rows hold a patient identifier, eight unscaled clinical measurements (counts, mg/dL, mmHg, mm,
µU/mL, kg/m², years) and a string outcome. The outcome follows a logistic model of glucose, BMI,
age, pedigree and pregnancies with noise, so a classifier can learn it but not perfectly (like
the real table, about a third positive). Nothing here is real patient data.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from incentive.atomic import write_atomic

ID_COLUMN = "patient_id"
LABEL_COLUMN = "outcome"
LABELS = ("healthy", "diabetic")
FEATURES = ("pregnancies", "glucose", "blood_pressure", "skin_thickness", "insulin", "bmi", "pedigree", "age")


def clinical_rows(n_rows: int, seed: int = 0, id_offset: int = 0) -> list[list[str]]:
    """``n_rows`` rows (identifier, features, outcome) drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    age = np.clip(rng.gamma(4.0, 8.0, n_rows) + 21, 21, 81).round()
    pregnancies = np.clip(rng.poisson(np.clip((age - 20) / 8, 0.2, 6)), 0, 17)
    bmi = np.clip(rng.normal(32, 7, n_rows), 18, 67).round(1)
    pedigree = np.clip(rng.lognormal(-1.0, 0.6, n_rows), 0.08, 2.4).round(3)
    latent = rng.normal(0, 1, n_rows)
    glucose = np.clip(120 + 25 * latent + 0.3 * (bmi - 32) + rng.normal(0, 12, n_rows), 44, 199).round()
    blood_pressure = np.clip(rng.normal(69 + 0.2 * (age - 33), 12, n_rows), 24, 122).round()
    skin = np.clip(rng.normal(20 + 0.6 * (bmi - 32), 9, n_rows), 0, 99).round()
    insulin = np.clip(rng.lognormal(4.3 + 0.01 * (glucose - 120), 0.6, n_rows), 14, 846).round()
    logit = -0.9 + 0.045 * (glucose - 120) + 0.08 * (bmi - 32) + 0.03 * (age - 33) + 0.9 * (pedigree - 0.47) + 0.1 * (pregnancies - 3.8)
    outcome = rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))
    columns = (pregnancies, glucose, blood_pressure, skin, insulin, bmi, pedigree, age)
    rows = []
    for i in range(n_rows):
        values = [f"{c[i]:g}" for c in columns]
        rows.append([f"P{id_offset + i + 1:06d}", *values, LABELS[int(outcome[i])]])
    return rows


def write_clinical_csv(path: Path | str, n_rows: int, seed: int = 0, id_offset: int = 0) -> Path:
    """Write ``n_rows`` rows with a header (``patient_id``, the features, ``outcome``) to ``path``."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([ID_COLUMN, *FEATURES, LABEL_COLUMN])
    writer.writerows(clinical_rows(n_rows, seed, id_offset))
    return write_atomic(path, text.getvalue())
