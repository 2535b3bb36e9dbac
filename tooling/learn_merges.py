"""Learn the text task's byte-pair merges again and write ``analysis/tasks/corpus/bpe-512-merges.json`` (byte for byte
the committed file): ``python -m tooling.learn_merges``."""
from __future__ import annotations

import json

from analysis.tasks import bpe
from analysis.tasks.text import VOCAB, TextTask


def main(size: int = 512) -> None:
    """Learn the merges on the default text task's training part and write ``bpe.MERGES_FILE``."""
    task = TextTask()
    merges = bpe.learn_merges(task.part.numpy(), VOCAB, size)
    payload = {"base": VOCAB, "size": VOCAB + len(merges), "corpus_sha256": task.corpus_sha256,
               "learned_on": f"text task, split train, max_bytes {task.max_bytes}, holdout_fraction {task.holdout_fraction}",
               "merges": [list(pair) for pair in merges]}
    bpe.MERGES_FILE.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"{bpe.MERGES_FILE}: {len(merges)} merges, sha256 {bpe.merges_sha256()}")


if __name__ == "__main__":
    main()
