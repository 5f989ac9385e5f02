"""The tuning engine: no Streamlit here, so it runs headless and is testable alone."""

import os

# TensorFlow's C++ start-up chatter (CUDA probes on a CPU machine) is noise to users.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
