"""ofhnet's weights in PyTorch: load what ``ofhnet export`` writes, save what ``ofhnet import``
reads.

An export directory (see ``src/interop/weights.rs``) holds ``networks.json`` (per network: the
class of ``ofhnet_ref.py`` and its keyword arguments), one safetensors file per network with the
``state_dict()`` names of those classes, and ofhnet's ``config.json``::

    import exchange
    model = exchange.ExportedModel("exported/")        # eval mode
    inpainted, face = model(occluded)                  # [b, 3, 16, 16] in [0, 1] -> [b, 3, 128, 128]
    ...                                                # fine-tune model.generator, say
    model.save("edited/")                              # then: ofhnet import --from edited/ --out M

Run as a script, it is the PyTorch half of the round-trip test (``tests/interop.rs``)::

    python exchange.py check DIR...     # each DIR: an export with probe.safetensors
                                        # (input, inpainted, output); compares to 1e-4
    python exchange.py perturb SRC DST  # loads SRC, perturbs every weight and statistic,
                                        # saves DST with PyTorch's own probe outputs

Needs ``torch`` and ``safetensors`` (``scripts/tch-env.sh`` installs both into its venv).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Dict, Tuple

import torch
from safetensors.torch import load_file, save_file
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ofhnet_ref as ref  # noqa: E402

FORMAT = 1
NETWORKS = "networks.json"
CONFIG = "config.json"
PROBE = "probe.safetensors"
TOLERANCE = 1e-4

CLASSES = {
    "InpaintNet": ref.InpaintNet,
    "UpsampleNet": ref.UpsampleNet,
    "Vdsr": ref.Vdsr,
    "Fsrcnn": ref.Fsrcnn,
    "UrdgnGenerator": ref.UrdgnGenerator,
    "Edsr": ref.Edsr,
    "Discriminator": ref.Discriminator,
}


def build(entry: dict) -> nn.Module:
    """The network of one ``networks.json`` entry, freshly initialised."""
    if entry["class"] not in CLASSES:
        raise ValueError(f"unknown class {entry['class']!r} (known: {', '.join(CLASSES)})")
    return CLASSES[entry["class"]](**entry["kwargs"])


def load_network(directory: str, entry: dict) -> nn.Module:
    """Builds a network and loads its safetensors file. Every parameter and buffer must be
    there, except BatchNorm's ``num_batches_tracked`` (burn has no such counter)."""
    net = build(entry)
    path = os.path.join(directory, entry["file"])
    missing, unexpected = net.load_state_dict(load_file(path), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return net.eval()


class ExportedModel(nn.Module):
    """InpaintNet and the stage-2 generator (and the discriminator when exported), as
    ``src/model.rs`` runs them: inpaint, keep the known pixels (``composite``), upscale."""

    def __init__(self, directory: str):
        super().__init__()
        with open(os.path.join(directory, NETWORKS)) as f:
            self.networks = json.load(f)
        if self.networks["format"] != FORMAT:
            raise ValueError(f"{directory}: format {self.networks['format']}, not {FORMAT}")
        self.source = directory
        self.composite = self.networks["composite"]
        self.inpaint = load_network(directory, self.networks["inpaint"])
        self.generator = load_network(directory, self.networks["generator"])
        disc = self.networks.get("discriminator")
        self.discriminator = load_network(directory, disc) if disc else None
        self.eval()

    def forward(self, occluded: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        inpainted = self.inpaint(occluded)
        x = ref.composite(occluded, inpainted) if self.composite else inpainted
        return x, self.generator(x)

    def save(self, directory: str) -> None:
        """Writes an export directory that ``ofhnet import`` reads (the same classes and
        sizes: ofhnet checks them against ``config.json``)."""
        os.makedirs(directory, exist_ok=True)
        nets: Dict[str, nn.Module] = {"inpaint": self.inpaint, "generator": self.generator}
        if self.discriminator is not None:
            nets["discriminator"] = self.discriminator
        for name, net in nets.items():
            state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
            save_file(state, os.path.join(directory, self.networks[name]["file"]))
        with open(os.path.join(directory, NETWORKS), "w") as f:
            json.dump(self.networks, f, indent=2)
        shutil.copyfile(os.path.join(self.source, CONFIG), os.path.join(directory, CONFIG))


def probe_outputs(model: ExportedModel, occluded: torch.Tensor) -> Dict[str, torch.Tensor]:
    with torch.no_grad():
        inpainted, output = model(occluded)
    return {"input": occluded, "inpainted": inpainted, "output": output}


def check(directory: str) -> float:
    """Runs the probe input of ``DIR/probe.safetensors`` and compares with its outputs."""
    probe = load_file(os.path.join(directory, PROBE))
    got = probe_outputs(ExportedModel(directory), probe["input"])
    worst = 0.0
    for key in ("inpainted", "output"):
        diff = (got[key] - probe[key]).abs().max().item()
        worst = max(worst, diff)
        if not diff <= TOLERANCE:
            raise AssertionError(f"{directory}: {key} differs by {diff:.3g} (> {TOLERANCE})")
    return worst


def perturb(source: str, target: str, seed: int = 7) -> None:
    """Loads ``source``, moves every weight and BatchNorm statistic by seeded noise (variances
    stay positive), saves ``target`` with the probe input of ``source`` and PyTorch's outputs."""
    model = ExportedModel(source)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if not t.is_floating_point():
                continue
            noise = torch.randn(t.shape, generator=g) * 0.05
            if name.endswith("running_var"):
                t.copy_(t * (1.0 + noise.abs()) + 0.1)
            else:
                t.add_(noise)
    model.save(target)
    probe = load_file(os.path.join(source, PROBE))
    save_file(probe_outputs(model, probe["input"]), os.path.join(target, PROBE))


def main(argv) -> int:
    if len(argv) >= 2 and argv[0] == "check":
        for d in argv[1:]:
            print(f"{d}: max |difference| {check(d):.3g}")
        return 0
    if len(argv) == 3 and argv[0] == "perturb":
        perturb(argv[1], argv[2])
        print(f"{argv[2]}: perturbed copy of {argv[1]}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
