"""Inspect networks from their modules: per-layer summaries (shapes, parameters, MACs,
receptive fields, memory), the lecture's comparison of the families, and its worked examples;
the first conv layer's learned kernels as an image in :mod:`moderncnn.inspect.filters` (not
imported here: it needs matplotlib).
"""

from moderncnn.inspect.fields import INPUT_FIELD, Axis, Field, FieldTracker, feature_field
from moderncnn.inspect.summary import Layer, Summary, summarize
from moderncnn.models.probe import build_meta, count_params, min_input_size
from moderncnn.validate import parse_input_size

__all__ = [
    "INPUT_FIELD",
    "Axis",
    "Field",
    "FieldTracker",
    "Layer",
    "Summary",
    "build_meta",
    "count_params",
    "feature_field",
    "min_input_size",
    "parse_input_size",
    "summarize",
]
