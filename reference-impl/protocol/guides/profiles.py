#!/usr/bin/env python3
"""Derives, from the guides' FSH profiles, the element rules of each profile dxsim reads or
writes, and writes them as JSON (`src/wire/guides/profiles.json`), which the exchange enforces,
the conformance suite turns into checks and a test holds dxsim's own Bundles to.

Usage: profiles.py EPRESCRIPTION_REPO CLINICAL_CORE_REPO JP_CORE_REPO > src/wire/guides/profiles.json
(each a clone of jami-fhir-jp-wg/ePrescriptionData, jami-fhir-jp-wg/clinical-core and
jami-fhir-jp-wg/jp-core-v1x; bare clones do: the profiles are read at HEAD with `git show`).

A profile's rules include those of its parents wherever their FSH is in one of the three
repositories (JP_Patient_ePrescriptionData ← JP_Patient_CCLIX ← JP Core's JP_Patient), merged
as FHIR constrains a profile within its parent: the larger minimum, the smaller maximum, the
child's fixed value.

For each profile two readings of its FSH rules (`* path N..M`, `* path contains name N..M`,
`* path = value`; indented rules are relative to the rule above them):

- `required`: every path whose minimum is 1 or more, slice names dropped (`identifier[rpNumber]`
  read as `identifier`) and a choice type `value[x]` as `value*`. Weaker than the profile for a
  required slice, stronger for a slice's own required children (they are then required of every
  value of the element): right for what dxsim writes, too strict to refuse others by.
- `rules`: what holds of every payload, so what the exchange may refuse by — cardinalities and
  fixed primitive values of elements reached through no slice, and the minimum of a slice
  itself (a slice of minimum 1 makes its element required). Each with a stable id.
"""
import json
import re
import subprocess
import sys

# guide repository → (profile, resource type, short name for rule ids)
PROFILES = {
    "ePrescriptionData": [
        ("JP_Bundle_ePrescriptionData", "Bundle", "bundle"),
        ("JP_Composition_ePrescriptionData", "Composition", "composition"),
        ("JP_Patient_ePrescriptionData", "Patient", "patient"),
        ("JP_Coverage_ePrescriptionData_insurance", "Coverage", "coverage"),
        ("JP_Organization_ePrescriptionData_coveragePayer", "Organization", "payer"),
        ("JP_Organization_ePrescriptionData_issuer", "Organization", "issuer"),
        ("JP_Practitioner_ePrescriptionData_author", "Practitioner", "practitioner"),
        ("JP_MedicationRequest_ePrescriptionData", "MedicationRequest", "medication"),
    ],
    "clinical-core": [
        ("JP_Bundle_CLINS", "Bundle", "clins-bundle"),
        ("JP_Patient_eCS", "Patient", "clins-patient"),
        ("JP_Condition_eCS", "Condition", "condition"),
        ("JP_Observation_LabResult_eCS", "Observation", "observation"),
        ("JP_AllergyIntolerance_eCS", "AllergyIntolerance", "allergy"),
    ],
}

PATH = r"(?P<path>[A-Za-z0-9_.\[\]\-/]+)"
CARD = re.compile(rf"^(?P<indent> *)\* +{PATH}(?: +contains +(?P<slice>[A-Za-z0-9_\-]+)(?: +named +\S+)?)? +(?P<min>\d*)\.\.(?P<max>\d+|\*)?(?:\s|$)")
FIXED = re.compile(rf"^(?P<indent> *)\* +{PATH} += +(?P<value>\"[^\"]*\"|#[^\s\"]+|#\"[^\"]*\"|\$[A-Za-z0-9_\-]+)(?: +\(exactly\))?\s*$")
ANY = re.compile(rf"^(?P<indent> *)\* +{PATH}")
ALIAS = re.compile(r"^Alias:\s*(\$[A-Za-z0-9_\-]+)\s*=\s*(\S+)", re.M)


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], capture_output=True, text=True, check=True).stdout


def plain(path):
    """`medication[x].coding[codingYJ].code` → `medication*.coding.code` (`*`: a choice type)."""
    return re.sub(r"\[[^\]]*\]", "", path.replace("[x]", "*"))


def sliced(path):
    """Whether the path runs through a named slice (not a choice type's `[x]`)."""
    return re.search(r"\[(?!x\])[^\]]*\]", path) is not None


def strip_comment(line):
    """The rule without its `//` comment (a quoted URL's `//` is not one)."""
    q = line.rfind('"')
    i = line.find("//", q + 1 if q >= 0 else 0)
    return (line[:i] if i >= 0 else line).rstrip()


def body_of(fsh, profile):
    start = re.search(rf"^Profile:\s*{re.escape(profile)}\s*$", fsh, re.M)
    if not start:
        return None
    body = fsh[start.end():]
    end = re.search(r"^(Profile|Extension|Invariant|ValueSet|CodeSystem|Instance|RuleSet|Logical|Alias):", body, re.M)
    return body[: end.start()] if end else body


def read(body, aliases):
    """(required paths, rules) of one profile's FSH body."""
    required, cards, fixed, stack = set(), {}, {}, []
    for line in body.splitlines():
        code = strip_comment(line)
        m = ANY.match(code)
        if not m:
            continue
        depth = len(m.group("indent")) // 2
        stack = stack[:depth]
        path = ".".join(stack + [m.group("path")])
        stack.append(m.group("path"))
        if "^" in code:
            continue
        c = CARD.match(code)
        if c and (c.group("min") or c.group("max")):
            low = int(c.group("min") or 0)
            high = c.group("max")
            if c.group("slice"):
                # `* identifier contains rpNumber 1..1`: the slice's cardinality; its element
                # then holds at least that many values.
                if low >= 1 and path.split(".")[-1] != "extension":
                    required.add(plain(path))
                    if not sliced(path):
                        cards.setdefault(plain(path), [0, None])[0] = max(low, 1)
                continue
            if low >= 1 and m.group("path") != "extension":
                required.add(plain(path))
            if sliced(path) or "extension" in path.split("."):
                continue
            card = cards.setdefault(plain(path), [0, None])
            if c.group("min"):
                card[0] = max(card[0], low)
            if high is not None and high != "*":
                card[1] = int(high) if card[1] is None else min(card[1], int(high))
            continue
        f = FIXED.match(code)
        if f and not sliced(path) and "extension" not in path.split("."):
            v = f.group("value")
            if v.startswith("$"):
                v = aliases.get(v)
            elif v.startswith('#"'):
                v = v[2:-1]
            elif v.startswith("#"):
                v = v[1:]
            else:
                v = v[1:-1]
            if v is not None:
                fixed[plain(path)] = v
    return sorted(required), cards, fixed


def rules_of(short, resource, cards, fixed):
    out = []
    for path, (low, high) in sorted(cards.items()):
        if low == 0 and high is None:
            continue
        out.append({"id": f"{short}.{path}".replace("*", "x"), "resource": resource, "element": path, "min": low, "max": high})
    for path, value in sorted(fixed.items()):
        out.append({"id": f"{short}.{path}-fixed".replace("*", "x"), "resource": resource, "element": path, "fixed": value})
    return out


def fsh_of(repo):
    """(aliases, profile texts) of a repository's FSH."""
    files = [f for f in git(repo, "ls-tree", "-r", "--name-only", "HEAD").split() if f.endswith(".fsh") and not f.startswith("gofsh/")]
    texts = {f: git(repo, "show", f"HEAD:{f}") for f in files}
    aliases = {}
    for t in texts.values():
        aliases.update(ALIAS.findall(t))
    return aliases, [t for f, t in texts.items() if "/profiles/" in f]


def chain(profile, sources):
    """The FSH bodies of `profile` and its parents, child first, each with its repository's
    aliases (the first repository defining a profile wins)."""
    out = []
    while profile:
        found = None
        for aliases, texts in sources:
            for t in texts:
                b = body_of(t, profile)
                if b is not None:
                    found = (b, aliases)
                    break
            if found:
                break
        if not found:
            break
        out.append(found)
        parent = re.search(r"^Parent:\s*(\S+)", found[0], re.M)
        profile = parent.group(1) if parent else None
    return out


def merged(bodies):
    """`read` of a profile's chain: the child's required paths; cardinalities and fixed values of
    every level, the child's narrowing its parents'."""
    required, cards, fixed = read(*bodies[0])
    for body, aliases in bodies[1:]:
        _, pcards, pfixed = read(body, aliases)
        for path, (low, high) in pcards.items():
            card = cards.setdefault(path, [0, None])
            card[0] = max(card[0], low)
            if high is not None:
                card[1] = high if card[1] is None else min(card[1], high)
        for path, value in pfixed.items():
            fixed.setdefault(path, value)
    return required, cards, fixed


def main():
    names = list(PROFILES) + ["jp-core"]
    repos = dict(zip(names, sys.argv[1:4]))
    if len(repos) != 3:
        sys.exit(__doc__)
    result = {"generated_by": "reference-impl/protocol/guides/profiles.py", "sources": {}, "profiles": {}}
    sources = {name: fsh_of(repo) for name, repo in repos.items()}
    for name, repo in repos.items():
        result["sources"][name] = git(repo, "rev-parse", "HEAD").strip()
    for name in PROFILES:
        # A guide's own profiles first, then the other guide's, then JP Core's.
        order = [sources[name]] + [sources[n] for n in names if n != name]
        for profile, resource, short in PROFILES[name]:
            bodies = chain(profile, order)
            if not bodies:
                sys.exit(f"{profile}: no FSH profile in {name}")
            required, cards, fixed = merged(bodies)
            result["profiles"][profile] = {
                "guide": name,
                "resource": resource,
                "required": required,
                "rules": rules_of(short, resource, cards, fixed),
            }
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
