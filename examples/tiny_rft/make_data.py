"""Writes the toy gene-ranking data of the tiny RFT example (deterministic; output committed).

Symptom ``sK`` belongs to gene ``G(K mod 10)``; a case lists three symptoms of one gene and the
answer is that gene. Filler words widen the vocabulary so an untrained model rarely guesses.
Run: ``python examples/tiny_rft/make_data.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
GENES = 10
SYMPTOMS = 40
FILLERS = [f"w{i}" for i in range(40)]


def case(rng: random.Random) -> dict[str, str]:
    gene = rng.randrange(GENES)
    symptoms = rng.sample([k for k in range(SYMPTOMS) if k % GENES == gene], 3)
    return {"prompt": "case: " + " ".join(f"s{k}" for k in symptoms) + " answer:", "correct_answer": f"G{gene}"}


def main() -> None:
    rng = random.Random(0)
    for name, n in (("train.jsonl", 512), ("valid.jsonl", 64)):
        rows = [case(rng) for _ in range(n)]
        (HERE / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    # One row that lists every filler word, so the tiny tokenizer has them as distractors.
    with (HERE / "train.jsonl").open("a") as handle:
        handle.write(json.dumps({"prompt": "notes: " + " ".join(FILLERS) + " answer:", "correct_answer": "G0"}) + "\n")


if __name__ == "__main__":
    main()
