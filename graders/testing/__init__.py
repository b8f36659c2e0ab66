"""Tools for testing graders: hypothesis strategies, property checks and reward-hacking probes.

Property-test a grader in one line (inside pytest or anywhere)::

    from graders.testing import assert_grader_properties
    assert_grader_properties(spec_or_grader, items=rows)

The strategies (``items_for``, ``samples_for``, ``specs``) work for any registered kind: they read
where the spec takes the output from (its ``input`` template) and what it compares it with (its
``reference`` template), and build outputs by inverting the input template. ``run_probes`` grades
outputs that game common grader weaknesses (empty, padded, hedged answers) against the
reference's own score; ``rftkit check`` is its command line. ``FakeOpenAIServer`` is a scripted
OpenAI-compatible server on 127.0.0.1 for testing model judges without a model.
"""

import typing

from graders.testing._probes import PROBES, Probe, ProbeResult, run_probes
from graders.testing._properties import GraderPropertyError, assert_grader_properties
from graders.testing._strategies import items_for, reference_sample, samples_for, specs
from graders.testing._values import adversarial_text

if typing.TYPE_CHECKING:
    from graders.testing.openai_server import FakeOpenAIServer, RecordedRequest, Reply

# Imported on first use, so `python -m graders.testing.openai_server` does not find its own
# module already imported by this package (runpy warns about that).
_SERVER_NAMES = frozenset({"FakeOpenAIServer", "RecordedRequest", "Reply"})

__all__ = [
    "FakeOpenAIServer",
    "GraderPropertyError",
    "PROBES",
    "Probe",
    "ProbeResult",
    "RecordedRequest",
    "Reply",
    "adversarial_text",
    "assert_grader_properties",
    "items_for",
    "reference_sample",
    "run_probes",
    "samples_for",
    "specs",
]


def __getattr__(name: str) -> typing.Any:
    if name in _SERVER_NAMES:
        from graders.testing import openai_server

        return getattr(openai_server, name)
    raise AttributeError(f"module 'graders.testing' has no attribute {name!r}")
