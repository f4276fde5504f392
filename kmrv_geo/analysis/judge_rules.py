"""The rules that judge a part of a monitoring patch: reason codes, their default verdicts and texts.

A patch is cut into parts by what it was (T0 survey parcel), what it is now (its after-use code, else
the T1 survey), and which layers cover it (PBF, ERL, each approval-like layer). :func:`part_reasons`
gives each part its reason codes; :data:`REASONS` maps a code to its verdict (``legal`` / ``illegal``
/ ``to_check``, overridable in the config's ``judge.verdicts``) and its Chinese and English text. A
part's verdict is its most severe reason's; a patch's verdict is its most severe part's (parts below
``judge.min_part_m2`` do not count).

The rules follow ``shared/DOMAIN.md`` ("Conversions of farmland", "Judging monitoring patches"):

- construction on land that was not construction needs a conversion approval (农用地转用/土地征收) or a
  temporary-use permit (临时用地) valid at the patch's after image date; without, it is illegal (on PBF
  its own reason). 一冻结 (project rule): construction on PBF stays flagged where an approval or permit
  covers it (``pbf_conversion_approved``, 占用永久基本农田（已批）: to be checked);
- construction in the ecological red line (ERL): illegal without an approval, to be checked with one;
- facility agriculture land (设施农用地 1202) needs a filing (设施农用地备案);
- farmland turned to other agricultural land: on PBF illegal (非粮化); elsewhere an out-flow the county
  must balance (进出平衡), to be checked;
- farmland turned to other land (bare, water): to be checked (abandoned or damaged);
- new farmland is legal (from a supplement project where one covers it); unchanged land is legal;
- a part whose current use is unknown, or that the T0 survey does not cover, is to be checked.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import landuse

SEVERITY = {"legal": 0, "to_check": 1, "illegal": 2}
"""Verdicts ordered by severity (the most severe part decides a patch)."""
VERDICT_TEXT = {"zh": {"legal": "合法", "illegal": "违法", "to_check": "待核实"},
                "en": {"legal": "legal", "illegal": "illegal", "to_check": "to check"}}


@dataclass(frozen=True)
class Reason:
    """One reason code: its default verdict and what it says (Chinese, English)."""

    verdict: str
    zh: str
    en: str


REASONS: dict[str, Reason] = {
    "unapproved_conversion_on_pbf": Reason("illegal", "违法占用永久基本农田建设",
                                           "construction on PBF without approval"),
    "unapproved_conversion": Reason("illegal", "未经批准占用耕地建设", "construction on farmland without approval"),
    "unapproved_construction": Reason("illegal", "未经批准新增建设（非耕地）",
                                      "new construction on non-farmland without approval"),
    "construction_in_erl": Reason("illegal", "生态保护红线内未经批准建设", "construction in the ERL without approval"),
    "temporary_use_expired": Reason("illegal", "临时用地到期未复垦", "temporary use past its end date"),
    "facility_unfiled": Reason("illegal", "设施农用地未备案", "facility agriculture without a filing"),
    "nongrain_on_pbf": Reason("illegal", "永久基本农田非粮化", "non-grain use on PBF"),
    "pbf_conversion_approved": Reason("to_check", "占用永久基本农田（已批）", "construction on PBF (approved)"),
    "erl_construction_approved": Reason("to_check", "生态保护红线内建设（已批，核实是否属允许的有限人为活动）",
                                        "construction in the ERL (approved; check it is an allowed activity)"),
    "temporary_use_date_unknown": Reason("to_check", "临时用地，期限无法判断",
                                         "temporary use, validity cannot be judged"),
    "nongrain_general": Reason("to_check", "一般耕地转为其他农用地（核实是否纳入进出平衡）",
                               "general farmland to other agricultural use (check the in/out balance)"),
    "farmland_to_other": Reason("to_check", "耕地变为其他土地（疑似撂荒或毁坏）",
                                "farmland to other land (abandoned or damaged?)"),
    "after_use_unknown": Reason("to_check", "现状用途不明，需外业核查", "current use unknown, check in the field"),
    "outside_t0": Reason("to_check", "前时相调查未覆盖", "not covered by the T0 survey"),
    "approved_conversion": Reason("legal", "已批准农用地转用/征收", "conversion approved"),
    "temporary_use_valid": Reason("legal", "临时用地（期限内）", "temporary use within its term"),
    "facility_filed": Reason("legal", "设施农用地已备案", "facility agriculture filed"),
    "supplement_project": Reason("legal", "补充耕地项目新增耕地", "new farmland of a supplement project"),
    "new_farmland": Reason("legal", "新增耕地", "new farmland"),
    "was_construction": Reason("legal", "原为建设用地", "was construction land already"),
    "unchanged": Reason("legal", "地类未变化", "land use unchanged"),
    "other_change": Reason("legal", "其他地类间变化（不涉及耕地）", "change between other classes (no farmland)"),
    "field_check": Reason("legal", "外业核查结论", "field check conclusion"),
}  # fmt: skip
"""Every reason code, most severe first within each verdict."""
REASON_ORDER = {code: i for i, code in enumerate(REASONS)}
CONFIGURABLE = tuple(code for code in REASONS if code != "field_check")
"""Reason codes whose verdict the config may set (``judge.verdicts``); a field conclusion is the team's own."""


def verdict_of(codes, overrides: dict[str, str] | None = None) -> str:
    """The most severe verdict of ``codes`` (``legal`` for none), with the config's overrides."""
    overrides = overrides or {}
    verdicts = [overrides.get(c, REASONS[c].verdict) for c in codes]
    return max(verdicts, key=SEVERITY.__getitem__, default="legal")


@dataclass(frozen=True)
class Part:
    """What one part of a patch is: the facts the rules read.

    Attributes
    ----------
    t0_code, t0_category : str
        What it was (T0 survey); empty code and ``none`` category outside the T0 survey.
    after_code, after_category : str
        What it is now (empty code and ``unknown`` category when unknown).
    in_pbf, in_erl : bool
    approved, facility, supplement : bool
        Inside a conversion approval, a facility filing, a supplement project.
    temporary : str
        ``""`` (no permit), ``valid``, ``expired`` or ``unknown`` (no date to judge by, or an unreadable end
        date) — the best permit covering the part at the patch's date.
    """

    t0_code: str
    t0_category: str
    after_code: str
    after_category: str
    in_pbf: bool = False
    in_erl: bool = False
    approved: bool = False
    facility: bool = False
    supplement: bool = False
    temporary: str = ""


def _construction_reasons(part: Part) -> list[str]:
    """Reasons of a part that is construction now."""
    if part.t0_category == landuse.CONSTRUCTION:
        return ["was_construction"]
    if part.approved:
        basis = "approved_conversion"
    elif part.temporary == "valid":
        basis = "temporary_use_valid"
    elif part.temporary == "expired":
        basis = "temporary_use_expired"
    elif part.temporary == "unknown":
        basis = "temporary_use_date_unknown"
    elif part.in_pbf:
        basis = "unapproved_conversion_on_pbf"
    elif part.t0_category == landuse.FARMLAND:
        basis = "unapproved_conversion"
    else:
        basis = "unapproved_construction"
    reasons = [basis]
    covered = basis in ("approved_conversion", "temporary_use_valid", "temporary_use_date_unknown")
    if part.in_pbf and covered:
        reasons.append("pbf_conversion_approved")  # 一冻结: flagged whatever the approvals say
    if part.in_pbf and basis == "temporary_use_expired":
        reasons.append("unapproved_conversion_on_pbf")
    if part.in_erl:
        reasons.append("erl_construction_approved" if covered else "construction_in_erl")
    return reasons


def part_reasons(part: Part) -> list[str]:
    """Reason codes of one part of a patch, most severe first (see the module docstring for the rules)."""
    if not part.t0_code:
        return ["outside_t0"]
    if not part.after_code or part.after_category == landuse.UNKNOWN:
        return ["after_use_unknown"]
    same = part.after_code == part.t0_code
    if part.after_code in landuse.FACILITY_CODES:
        reasons = ["unchanged"] if same else ["facility_filed" if part.facility else "facility_unfiled"]
    elif part.after_category == landuse.CONSTRUCTION:
        reasons = _construction_reasons(part)
    elif part.after_category == landuse.FARMLAND:
        if part.t0_category == landuse.FARMLAND:
            reasons = ["unchanged"]
        else:
            reasons = ["supplement_project" if part.supplement else "new_farmland"]
    elif part.t0_category == landuse.FARMLAND and part.after_category == landuse.OTHER_AGRICULTURAL:
        reasons = ["nongrain_on_pbf" if part.in_pbf else "nongrain_general"]
    elif part.t0_category == landuse.FARMLAND:
        reasons = ["farmland_to_other"]
    else:
        reasons = ["unchanged"] if same else ["other_change"]
    return sorted(reasons, key=REASON_ORDER.__getitem__)
