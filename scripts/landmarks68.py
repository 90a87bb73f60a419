#!/usr/bin/env python3
"""68-point landmarks for a CelebA-layout root, with dlib's 68-point shape predictor.

The official CelebA download has 5 points per face; ofhnet's semantic structure loss, NRMSE
and parsing IoU need the 68 iBUG points. This script writes them as ROOT/landmarks68.txt in
the importer's format (a count line, a header line, then `NAME x1 y1 ... x68 y68` in the
aligned image's pixel coordinates), which `ofhnet data import --celeba ROOT` then reads:

    python3 scripts/landmarks68.py ROOT [--out FILE] [--limit N] [--force]
    python3 scripts/landmarks68.py --setup      # only create the venv (exit 3 if it cannot)

ROOT is a CelebA-layout root (ROOT/img_align_celeba/*.jpg, list_eval_partition.txt; the
5-point list_landmarks_align_celeba.txt is used where dlib finds no face). The first run
creates a venv at $OFHNET_LANDMARKS_VENV (default ~/.cache/ofhnet/landmarks-venv) with
dlib-bin and face_recognition_models (which ships shape_predictor_68_face_landmarks.dat)
from PyPI, about 110 MB, and runs itself inside it.

Per image: dlib's HOG frontal face detector (one upsampling); the largest face it finds goes
to the shape predictor. When it finds none, the face box comes from the 5 CelebA points (a
square of 2.4 eye distances, centred on the five points' mean and moved down a tenth of the
eye distance), and the image is counted as `fallback`. Points are rounded to whole pixels, as
in the 68-point file of this project's own CelebA subset.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

VENV = os.environ.get(
    "OFHNET_LANDMARKS_VENV", os.path.expanduser("~/.cache/ofhnet/landmarks-venv")
)
PACKAGES = ["dlib-bin==20.0.1.post1", "face_recognition_models==0.3.0", "numpy", "pillow", "setuptools"]


def ensure_venv() -> None:
    """Re-executes this script inside the venv (creating it first) unless dlib imports."""
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401

        return
    except ImportError:
        pass
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        sys.exit(f"{VENV}: dlib or face_recognition_models does not import; remove the venv")
    if not os.path.exists(os.path.join(VENV, ".complete")):
        print(f"creating {VENV} with {' '.join(PACKAGES)}", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
            subprocess.run([python, "-m", "pip", "install", "-q", *PACKAGES], check=True)
        except (subprocess.CalledProcessError, OSError) as e:
            print(f"cannot set up {VENV}: {e}", file=sys.stderr)
            sys.exit(3)
        open(os.path.join(VENV, ".complete"), "w").close()
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


def read_names(root: str) -> list:
    """The images of the root, in list_eval_partition.txt's order (else sorted)."""
    partition = os.path.join(root, "list_eval_partition.txt")
    if os.path.exists(partition):
        with open(partition) as f:
            return [line.split()[0] for line in f if line.strip()]
    return sorted(os.listdir(os.path.join(root, "img_align_celeba")))


def read_five(root: str) -> dict:
    """CelebA's 5 points per image name (empty when the file is missing)."""
    path = os.path.join(root, "list_landmarks_align_celeba.txt")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        lines = f.read().splitlines()
    out = {}
    for line in lines[2:]:
        parts = line.split()
        if len(parts) == 11:
            out[parts[0]] = [float(v) for v in parts[1:]]
    return out


def box_from_five(dlib, five, width: int, height: int):
    xs, ys = five[0::2], five[1::2]
    eye = ((xs[1] - xs[0]) ** 2 + (ys[1] - ys[0]) ** 2) ** 0.5
    cx, cy = sum(xs) / 5.0, sum(ys) / 5.0 + 0.1 * eye
    half = 1.2 * eye
    return dlib.rectangle(int(cx - half), int(cy - half), int(cx + half), int(cy + half))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", nargs="?", help="a CelebA-layout root")
    parser.add_argument("--setup", action="store_true", help="only create the venv")
    parser.add_argument("--out", help="default ROOT/landmarks68.txt")
    parser.add_argument("--limit", type=int, help="only the first N images")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args()
    if args.setup:
        ensure_venv()
        print(f"{VENV}: dlib and the 68-point model are ready", file=sys.stderr)
        return 0
    if not args.root:
        parser.error("give a CelebA-layout root (or --setup)")
    out = args.out or os.path.join(args.root, "landmarks68.txt")
    if os.path.exists(out) and not args.force:
        sys.exit(f"{out} exists (give --force to replace it)")
    ensure_venv()

    import dlib
    import face_recognition_models
    import numpy as np
    from PIL import Image

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    names = read_names(args.root)[: args.limit]
    five = read_five(args.root)
    rows, fallback, skipped = [], 0, []
    start = time.time()
    for i, name in enumerate(names):
        path = os.path.join(args.root, "img_align_celeba", name)
        try:
            img = np.asarray(Image.open(path).convert("RGB"))
        except (OSError, ValueError) as e:
            skipped.append(f"{name}: {e}")
            continue
        faces = detector(img, 1)
        if faces:
            rect = max(faces, key=lambda r: r.width() * r.height())
        elif name in five:
            rect = box_from_five(dlib, five[name], img.shape[1], img.shape[0])
            fallback += 1
        else:
            skipped.append(f"{name}: no face found and no 5-point row")
            continue
        shape = predictor(img, rect)
        points = " ".join(f"{shape.part(k).x} {shape.part(k).y}" for k in range(68))
        rows.append(f"{name} {points}")
        if (i + 1) % 500 == 0:
            rate = (i + 1) / (time.time() - start)
            print(f"{i + 1}/{len(names)} images ({rate:.0f}/s)", file=sys.stderr)
    header = " ".join(f"x{k} y{k}" for k in range(1, 69))
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{len(rows)}\n{header}\n")
        f.write("\n".join(rows) + ("\n" if rows else ""))
    os.replace(tmp, out)
    print(
        f"{out}: {len(rows)} images ({fallback} with the 5-point box), {len(skipped)} skipped, "
        f"{time.time() - start:.0f} s",
        file=sys.stderr,
    )
    for s in skipped[:10]:
        print(f"  skipped {s}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
