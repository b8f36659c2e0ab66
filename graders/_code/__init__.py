"""Programs graded by running them: code extraction and the sandboxed harness of ``code_tests``."""

from graders._code._extract import Extracted, extract_code
from graders._code._run import HARNESS_SOURCE, CaseResult, read_report

__all__ = ["HARNESS_SOURCE", "CaseResult", "Extracted", "extract_code", "read_report"]
