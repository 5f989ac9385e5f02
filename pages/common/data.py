"""Datasets as the pages load them: cached, uploaded, labelled, and how fast they train."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import streamlit as st

from core.data import BUILTIN, Dataset, load_dataset
from core.eta import assumed_rate, measured_rate
from pages.common.registry import db_path, store


@st.cache_resource(show_spinner="Loading the dataset...", max_entries=4)
def cached_dataset(name: str, seed: int = 1, val_fraction: float = 0.1) -> Dataset:
    """Loaded once per (name, seed): the trainer reads these arrays, never copies them."""
    return load_dataset(name, seed=seed, val_fraction=val_fraction)


def save_upload(name: str, data: bytes) -> Path:
    """Store an uploaded file under its content hash.

    The user's file name never becomes a path: only its stem, reduced to letters,
    digits, '.', '_' and '-', is kept as a readable prefix.
    """
    folder = db_path().parent / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_-]", "_", Path(name.replace("\\", "/")).stem)[:40] or "upload"
    path = folder / f"{stem}-{digest}.npz"
    if not path.exists():
        path.write_bytes(data)
    return path


def dataset_label(name: str) -> str:
    info = BUILTIN.get(name)
    if info is None:
        return f"{Path(name).name} (uploaded)"
    return f"{info.title} — {info.size}, {'offline' if info.offline else 'needs a download once'}"


def throughput(dataset_name: str, input_shape: tuple[int, ...]) -> tuple[float, str]:
    """Training samples a second: measured from past epochs on this dataset, else assumed."""
    histories = [
        t.history
        for s in store().list()
        if s.config.dataset == dataset_name
        for t in s.trials
        if t.history
    ]
    rate = measured_rate(histories)
    if rate is not None:
        return rate, f"measured on this machine over {sum(map(len, histories))} past epochs"
    return assumed_rate(input_shape), "assumed (no trial measured on this dataset yet)"


def offered_resources(address: str) -> str:
    """What the parallel trials can run on, in words: the Ray cluster this server already
    joined, else this machine's CPUs (a cluster at an address is joined on Start)."""
    from core.executor import connected_resources

    found = connected_resources()
    if found is not None:
        gpus = f" and {found['GPU']:g} GPUs" if found["GPU"] else ""
        return f"The Ray cluster offers {found['CPU']:g} CPUs{gpus}."
    if address.strip():
        return f"The Ray cluster at {address.strip()!r} is joined when you press Start."
    return f"This machine has {os.cpu_count() or 1} CPUs: more parallel trials start a local Ray."
