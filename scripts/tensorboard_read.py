"""Reads what `ofhnet export tensorboard` wrote with TensorBoard's own event reader and prints
every run's scalars as JSON: {"RUN_DIR": {"TAG": [[step, value], ...]}}.

    python scripts/tensorboard_read.py LOGDIR

Needs the `tensorboard` package (scripts/tch-env.sh installs it into its venv). The
integration test tests/report.rs compares this output with the run store.
"""

import json
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read(logdir: str) -> dict:
    out = {}
    for run in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, run)
        if not os.path.isdir(path):
            continue
        acc = EventAccumulator(path, size_guidance={"scalars": 0})
        acc.Reload()
        out[run] = {
            tag: [[e.step, e.value] for e in acc.Scalars(tag)]
            for tag in acc.Tags()["scalars"]
        }
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    json.dump(read(sys.argv[1]), sys.stdout)
