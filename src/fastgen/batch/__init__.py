"""Streaming batch inference: model + input file -> output file, in bounded memory.

:func:`predict_file` reads the input in chunks (:func:`read_chunks`), applies the
model's batch method to each (:func:`predict_chunks`) and writes ``.npy``, CSV or
Parquet atomically (a temporary file renamed at the end).  The ``fastgen predict``
command is a thin wrapper around it.

Example
-------
>>> from fastgen.batch import predict_file
>>> report = predict_file("sentiment.fgm", "reviews.txt", "labels.npy")  # doctest: +SKIP
>>> report.rows, report.rows_per_s  # doctest: +SKIP
"""

from ._common import FORMATS, BatchError
from ._engine import BatchReport, Plan, load_model, make_plan, predict_chunks, predict_file
from ._readers import Chunk, ChunkReader, default_batch_size, read_chunks, read_lengths
from ._writers import OutputWriter, check_output_path, open_writer, remove_pending_outputs

__all__ = [
    "FORMATS",
    "BatchError",
    "BatchReport",
    "Chunk",
    "ChunkReader",
    "OutputWriter",
    "Plan",
    "check_output_path",
    "default_batch_size",
    "load_model",
    "make_plan",
    "open_writer",
    "predict_chunks",
    "predict_file",
    "read_chunks",
    "read_lengths",
    "remove_pending_outputs",
]
