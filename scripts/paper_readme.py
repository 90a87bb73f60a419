#!/usr/bin/env python3
"""Fills the measured section of reports/paper/README.md from the paper experiments' reports.

    python3 scripts/paper_readme.py [--reports reports/paper] [--readme reports/paper/README.md]

Every number written comes from the CSV tables that `ofhnet report` wrote into
<reports>/<experiment>/tables/ (which come from the run store); the paper's numbers are the ones
quoted in docs/PROTOCOL.md (Tables 1 and 2 of the paper). The section between the markers
`<!-- measured:begin -->` and `<!-- measured:end -->` is replaced; the rest of the file is kept.
An experiment without a report is listed as not finished, never filled in.
"""
import argparse
import csv
import html as html_lib
import os
import re
import sys

BEGIN, END = "<!-- measured:begin -->", "<!-- measured:end -->"

NAMES = {
    "in_bicubic": "IN+bicubic",
    "in_ma": "IN+Ma (position-patch)",
    "in_vdsr": "IN+VDSR",
    "in_fsrcnn": "IN+FSRCNN",
    "in_urdgn": "IN+URDGN",
    "in_edsr": "IN+EDSR",
    "ofhnet": "OFHNet",
}
# The paper's Table 1 (PSNR, SSIM) and Table 2 (NRMSE x100, IoU), as quoted in docs/PROTOCOL.md.
PAPER_T1 = {
    "in_bicubic": (17.53, 0.44),
    "in_ma": (17.36, 0.44),
    "in_vdsr": (19.60, 0.53),
    "in_fsrcnn": (19.78, 0.54),
    "in_urdgn": (20.00, 0.57),
    "ofhnet": (20.44, 0.63),
}
PAPER_T2 = {"in_urdgn": (13.61, 0.40), "ofhnet": (5.33, 0.60)}
EXPERIMENTS = ["table1", "table2", "ablation_losses", "occlusion_position", "occlusion_size"]


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(v):
    return float(v) if v not in ("", None) else None


def ci(row, m, decimals, signed=False):
    """`mean [lower, upper]` of metric m (or of its paired difference when m ends in _diff)."""
    mean, lo, hi = num(row.get(m)), num(row.get(m + "_lower")), num(row.get(m + "_upper"))
    if mean is None:
        return "missing"
    f = ("{:+.%df}" if signed else "{:.%df}") % decimals
    if lo is None or hi is None:
        return f.format(mean)
    out = f"{f.format(mean)} [{f.format(lo)}, {f.format(hi)}]"
    # Rows over several seeds: the spread of the per-seed means, beside the interval over faces.
    sd = num(row.get(m + "_seed_sd"))
    if sd is not None and not m.endswith("_diff"):
        out += f" (seed sd {('{:.%df}' % decimals).format(sd)})"
    return out


def diff(row, m, decimals):
    if row.get("reference") == row.get("label"):
        return "reference"
    return ci(row, m + "_diff", decimals, signed=True)


def name(row):
    label = row["label"]
    return NAMES.get(label, label)


def table(head, body):
    out = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    out += ["| " + " | ".join(r) + " |" for r in body]
    return "\n".join(out)


def images(rs):
    counts = sorted({r["images"] for r in rs if r["images"]})
    return "/".join(counts) if counts else "0"


def with_paper(rs, first, second, paper):
    """Table rows: method, each metric with its interval and paired difference, the paper's value."""
    body = []
    for r in rs:
        p = paper.get(r["label"], (None, None))
        cells = [name(r)]
        for (m, decimals), value in zip((first, second), p):
            cells += [ci(r, m, decimals), diff(r, m, decimals),
                      f"{value:.2f}" if value is not None else "-"]
        body.append(cells)
    return body


def versus_urdgn(row, m, higher_is_better):
    lo, hi = num(row.get(m + "_diff_lower")), num(row.get(m + "_diff_upper"))
    better = lo is not None and lo > 0 if higher_is_better else hi is not None and hi < 0
    worse = hi is not None and hi < 0 if higher_is_better else lo is not None and lo > 0
    if better:
        return "OFHNet beats IN+URDGN"
    if worse:
        return "OFHNet does NOT beat IN+URDGN: IN+URDGN is better"
    return "OFHNet does NOT beat IN+URDGN: the paired interval contains zero"


def section(reports):
    have = {e: os.path.isdir(os.path.join(reports, e, "tables")) for e in EXPERIMENTS}
    out = []
    missing = [e for e in EXPERIMENTS if not have[e]]
    if missing:
        out.append(
            "Not finished (no report yet, so nothing of theirs below): "
            + ", ".join(f"`{e}`" for e in missing)
            + "."
        )
    for e in EXPERIMENTS:
        page = os.path.join(reports, e, "index.html")
        if have[e] and os.path.exists(page):
            html = open(page).read()
            if "Missing from this report" in html:
                part = html.split("Missing from this report", 1)[1].split("</ul>", 1)[0]
                items = [re.sub(r"<[^>]+>", "", li).strip() for li in part.split("<li>")[1:]]
                # Unfinished runs and cells without rows; not charts that do not apply.
                items = [i for i in items if i.startswith("run ") or "no metric rows" in i]
                if not items:
                    continue
                out.append(f"Partial report `{e}` (its tables hold only finished runs): "
                           + "; ".join(html_lib.unescape(i) for i in items if i) + ".")
    if out:
        out.append("")
    t = lambda e, f: os.path.join(reports, e, "tables", f)  # noqa: E731
    verdicts = []

    if have["table1"]:
        r1 = rows(t("table1", "table1_random.csv"))
        out.append(f"### Table 1: random occlusion, {images(r1)} test faces (`table1`)\n")
        out.append(table(["Method", "PSNR (dB)", "ΔPSNR vs IN+bicubic", "paper PSNR", "SSIM",
                          "ΔSSIM vs IN+bicubic", "paper SSIM"],
                         with_paper(r1, ("psnr", 2), ("ssim", 4), PAPER_T1)))
        of = next((r for r in r1 if r["label"] == "ofhnet"), None)
        if of is not None and of.get("reference") == "in_bicubic":
            for m, decimals in (("psnr", 2), ("ssim", 4)):
                lo = num(of.get(m + "_diff_lower"))
                verdict = "above zero" if lo is not None and lo > 0 else "NOT above zero"
                verdicts.append(f"- OFHNet - IN+bicubic, {m.upper()}: "
                                f"{ci(of, m + '_diff', decimals, True)}, paired 95% interval {verdict}.")
    if have["table2"]:
        r2 = rows(t("table2", "table2_random.csv"))
        out.append(f"\n### Table 2: random occlusion, {images(r2)} test faces (`table2`)\n")
        out.append(table(["Method", "NRMSE (x100)", "ΔNRMSE vs IN+URDGN", "paper NRMSE", "IoU",
                          "ΔIoU vs IN+URDGN", "paper IoU"],
                         with_paper(r2, ("nrmse", 2), ("iou", 4), PAPER_T2)))
        r2p = {r["label"]: r for r in rows(t("table2", "table1_random.csv"))}
        for rs, metrics in ((r2p, (("psnr", 2, True), ("ssim", 4, True))),
                            ({r["label"]: r for r in r2}, (("nrmse", 2, False), ("iou", 4, True)))):
            of = rs.get("ofhnet")
            if of is None or of.get("reference") != "in_urdgn":
                continue
            for m, decimals, higher in metrics:
                verdicts.append(f"- OFHNet - IN+URDGN, {m.upper()} "
                                f"({'higher' if higher else 'lower'} is better): "
                                f"{ci(of, m + '_diff', decimals, True)}; {versus_urdgn(of, m, higher)}.")
    vs = os.path.join(reports, "table1_vs_ofhnet", "tables")
    if os.path.isdir(vs):
        # `ofhnet report table1 --reference ofhnet`: every method paired against OFHNet.
        a = {r["label"]: r for r in rows(os.path.join(vs, "table1_random.csv"))}
        b = {r["label"]: r for r in rows(os.path.join(vs, "table2_random.csv"))}
        body, ahead = [], []
        for lab, r in a.items():
            if lab == "ofhnet":
                continue
            q = b.get(lab, {})
            body.append([NAMES.get(lab, lab), diff(r, "psnr", 2), diff(r, "ssim", 4),
                         diff(q, "nrmse", 2) if q else "missing", diff(q, "iou", 4) if q else "missing"])
            for m, higher, row in (("psnr", True, r), ("ssim", True, r), ("nrmse", False, q),
                                   ("iou", True, q)):
                lo, hi = num(row.get(m + "_diff_lower")), num(row.get(m + "_diff_upper"))
                if (lo is not None and lo > 0) if higher else (hi is not None and hi < 0):
                    ahead.append(f"{NAMES.get(lab, lab)} on {m.upper()}")
        out.append("\n### Every method against OFHNet, paired (`table1_vs_ofhnet`: "
                   "`ofhnet report table1 --reference ofhnet`)\n")
        out.append(table(["Method", "ΔPSNR vs OFHNet", "ΔSSIM vs OFHNet", "ΔNRMSE vs OFHNet",
                          "ΔIoU vs OFHNet"], body))
        verdicts.append("- Better than OFHNet with a paired 95% interval that excludes zero: "
                        + (", ".join(ahead) if ahead else "no method on no metric") + ".")
    ids = os.path.join(reports, "table1_by_identity", "tables", "table1_random.csv")
    if os.path.exists(ids):
        # `ofhnet report table1 --resample identities`: the same means, intervals over people.
        r1i = rows(ids)
        out.append("\n### Table 1 resampling people (`table1_by_identity`: `ofhnet report table1 "
                   "--resample identities`)\n")
        out.append("The same means; every interval resamples the test split's identities (each "
                   "with all of its faces) instead of single faces.\n")
        out.append(table(["Method", "PSNR (dB)", "ΔPSNR vs IN+bicubic", "SSIM", "ΔSSIM vs IN+bicubic"],
                         [[name(r), ci(r, "psnr", 2), diff(r, "psnr", 2), ci(r, "ssim", 4),
                           diff(r, "ssim", 4)] for r in r1i]))
        of = next((r for r in r1i if r["label"] == "ofhnet"), None)
        if of is not None and of.get("reference") == "in_bicubic":
            verdicts.append(f"- OFHNet - IN+bicubic, PSNR, resampling people: "
                            f"{ci(of, 'psnr_diff', 2, True)}.")
    if verdicts:
        out.append("\n### The paired comparisons\n")
        out.extend(verdicts)

    if have["ablation_losses"]:
        a1 = rows(t("ablation_losses", "table1_random.csv"))
        a2 = {r["label"]: r for r in rows(t("ablation_losses", "table2_random.csv"))}
        body = []
        for r in a1:
            q = a2.get(r["label"], {})
            body.append([r["label"], ci(r, "psnr", 2), diff(r, "psnr", 2), ci(r, "ssim", 4),
                         diff(r, "ssim", 4)]
                        + ([ci(q, "nrmse", 2), diff(q, "nrmse", 2), ci(q, "iou", 4), diff(q, "iou", 4)]
                           if q else ["missing"] * 4))
        ref = a1[0]["reference"] if a1 else "?"
        out.append(f"\n### Loss ablation: random occlusion, {images(a1)} test faces (`ablation_losses`); "
                   f"Δ: paired against `{ref}`\n")
        out.append(table(["UpsampleNet trained with", "PSNR (dB)", "ΔPSNR", "SSIM", "ΔSSIM",
                          "NRMSE (x100)", "ΔNRMSE", "IoU", "ΔIoU"], body))

    for e, title, prefix in (("occlusion_position", "Occlusion position (Fig. 8)", "position-"),
                             ("occlusion_size", "Occlusion size (Figs. 9-10)", "size-")):
        if not have[e]:
            continue
        files = sorted(f for f in os.listdir(os.path.join(reports, e, "tables"))
                       if f.startswith("table1_" + prefix) and f.endswith(".csv"))
        key = lambda f: f[len("table1_" + prefix):-4]  # noqa: E731
        files.sort(key=lambda f: (len(key(f)), key(f)))
        per = {key(f): rows(t(e, f)) for f in files}
        labels = list(dict.fromkeys(r["label"] for rs in per.values() for r in rs))
        body = []
        for lab in labels:
            cells = [NAMES.get(lab, lab)]
            for k in per:
                r = next((x for x in per[k] if x["label"] == lab), None)
                cells.append(f"{ci(r, 'psnr', 2)} / {num(r['ssim']):.4f}" if r else "missing")
            body.append(cells)
        n = images([r for rs in per.values() for r in rs])
        out.append(f"\n### {title}: PSNR dB [95% interval] / SSIM, {n} test faces (`{e}`)\n")
        out.append(table(["Method"] + [f"{prefix.rstrip('-')} {k}" for k in per], body))
        if e == "occlusion_size":
            out.append("\nCurves: [`occlusion_size/charts/size_psnr.svg`](occlusion_size/charts/size_psnr.svg), "
                       "[`size_ssim.svg`](occlusion_size/charts/size_ssim.svg).")

    for e in EXPERIMENTS:
        lm = os.path.join(reports, e, "tables", "landmark_networks.md")
        if have[e] and os.path.exists(lm):
            out.append("\n" + open(lm).read().strip().replace("### ", "### ", 1))
            break
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reports", default="reports/paper")
    ap.add_argument("--readme", default=None)
    a = ap.parse_args()
    readme = a.readme or os.path.join(a.reports, "README.md")
    text = open(readme).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"{readme}: no `{BEGIN}` ... `{END}` section to fill")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    open(readme, "w").write(head + BEGIN + "\n" + section(a.reports) + END + tail)
    print(f"filled {readme} from {a.reports}/*/tables", file=sys.stderr)


if __name__ == "__main__":
    main()
