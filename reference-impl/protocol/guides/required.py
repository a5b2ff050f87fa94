#!/usr/bin/env python3
"""Derives, from the guides' FSH profiles, every element each profile requires (minimum
cardinality 1 or more), for the profiles dxsim writes; writes them as JSON beside the element
rules (`src/wire/guides/required.json`), which a test holds dxsim's written Bundles to.

Usage: required.py EPRESCRIPTION_REPO CLINICAL_CORE_REPO > src/wire/guides/required.json
(each a clone of jami-fhir-jp-wg/ePrescriptionData and jami-fhir-jp-wg/clinical-core; bare
clones do: the profiles are read at HEAD with `git show`).

An FSH rule `* path N..M` or `* path contains name N..M` with N >= 1 makes `path` required where
its parent exists; indented rules (`  * child ...`) are relative to the rule above them. Slice
names (`identifier[resourceIdentifier]`) are dropped — a slice is read as its element, which is
weaker than the profile (a required slice is satisfied by any value of the element) — and a
choice type `value[x]` becomes `value*` (any `value…` member).
"""
import json
import re
import subprocess
import sys

PROFILES = {
    "ePrescriptionData": [
        "JP_Bundle_ePrescriptionData",
        "JP_Composition_ePrescriptionData",
        "JP_Patient_ePrescriptionData",
        "JP_Coverage_ePrescriptionData_insurance",
        "JP_Organization_ePrescriptionData_coveragePayer",
        "JP_Organization_ePrescriptionData_issuer",
        "JP_Practitioner_ePrescriptionData_author",
        "JP_MedicationRequest_ePrescriptionData",
    ],
    "clinical-core": [
        "JP_Bundle_CLINS",
        "JP_Patient_eCS",
        "JP_Condition_eCS",
        "JP_Observation_LabResult_eCS",
        "JP_AllergyIntolerance_eCS",
    ],
}

RULE = re.compile(r"^(?P<indent> *)\* +(?P<path>[A-Za-z0-9_.\[\]\-/]+)(?: +contains +(?P<slice>[A-Za-z0-9_\-]+))? +(?P<min>\d+)\.\.")
ANY = re.compile(r"^(?P<indent> *)\* +(?P<path>[A-Za-z0-9_.\[\]\-/]+)")


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=True).stdout


def plain(path):
    """`medication[x].coding[codingYJ].code` → `medication*.coding.code` (`*`: a choice type)."""
    return re.sub(r"\[[^\]]*\]", "", path.replace("[x]", "*"))


def required(fsh, profile):
    """The required paths of `profile` in the FSH text."""
    start = re.search(rf"^Profile:\s*{re.escape(profile)}\s*$", fsh, re.M)
    if not start:
        return None
    body = fsh[start.end():]
    end = re.search(r"^(Profile|Extension|Invariant|ValueSet|CodeSystem|Instance|RuleSet|Logical):", body, re.M)
    body = body[: end.start()] if end else body
    out, stack = set(), []
    for line in body.splitlines():
        if "^" in line.split("//")[0]:
            m = ANY.match(line)
        else:
            m = RULE.match(line) or ANY.match(line)
        if not m:
            continue
        depth = len(m.group("indent")) // 2
        stack = stack[:depth]
        path = ".".join(stack + [m.group("path")])
        stack.append(m.group("path"))
        if "^" in line.split("//")[0] or "min" not in m.groupdict() or m.groupdict().get("min") is None:
            continue
        if int(m.group("min")) >= 1 and m.group("path") not in ("extension",):
            out.add(plain(path))
    return sorted(out)


def main():
    repos = dict(zip(PROFILES, sys.argv[1:3]))
    result = {"generated_by": "reference-impl/protocol/guides/required.py", "sources": {}, "profiles": {}}
    for name, repo in repos.items():
        result["sources"][name] = git(repo, "rev-parse", "HEAD").strip()
        files = [f for f in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() if f.endswith(".fsh") and "/profiles/" in f]
        texts = [git(repo, "show", f"HEAD:{f}") for f in files]
        for profile in PROFILES[name]:
            found = [r for r in (required(t, profile) for t in texts) if r is not None]
            if not found:
                sys.exit(f"{profile}: no FSH profile in {name}")
            result["profiles"][profile] = {"guide": name, "required": found[0]}
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
