"""Tests of the PDF layer: upload checks, the document-ID stamp, seals and B-LTA."""
