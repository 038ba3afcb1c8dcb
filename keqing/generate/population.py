"""Master data: offices, staff, products, customers and patients, drawn with numpy and polars.

Everything is vectorised over rows; the loops are over offices or small fixed lists. Each table is a
polars frame with typed columns plus ``_day``, the index of the day the record first appears (the day
folder its master row goes to), and a few private columns (``_``-prefixed) the activity generator uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from keqing.generate import vocab
from keqing.generate.arrays import group_rank, ids, pick_or_null, pick_within, split_counts, strs
from keqing.generate.scales import Calendar, Scale, rng

MOBILE_PREFIXES = np.array(vocab.MOBILE_PREFIXES, dtype=np.int64)

_SUR = pl.Series([s for s, _, _ in vocab.SURNAMES])
_SUR_PY = pl.Series([p for _, p, _ in vocab.SURNAMES])
_SUR_W = np.array([w for _, _, w in vocab.SURNAMES]) / sum(w for _, _, w in vocab.SURNAMES)
_GIVEN = pl.Series([c for c, _ in vocab.GIVEN_MALE + vocab.GIVEN_FEMALE] + [""])
_GIVEN_PY = pl.Series([p for _, p in vocab.GIVEN_MALE + vocab.GIVEN_FEMALE] + [""])
_N_MALE, _N_FEMALE = len(vocab.GIVEN_MALE), len(vocab.GIVEN_FEMALE)
_NO_CHAR = _N_MALE + _N_FEMALE  # index of the empty string


@dataclass
class Names:
    surname: np.ndarray
    given1: np.ndarray
    given2: np.ndarray

    def chinese(self) -> pl.Series:
        return _concat(_SUR.gather(self.surname), _GIVEN.gather(self.given1), _GIVEN.gather(self.given2))

    def pinyin_local_part(self) -> pl.Series:
        """``zhang.wei`` for 张伟 (given-name syllables joined)."""
        given = _concat(_GIVEN_PY.gather(self.given1), _GIVEN_PY.gather(self.given2))
        return _concat(_SUR_PY.gather(self.surname), pl.Series(["."] * len(self.surname)), given)


def _concat(*parts: pl.Series) -> pl.Series:
    frame = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts)})
    return frame.select(pl.concat_str(pl.all()).alias("s")).to_series()


def draw_names(r: np.random.Generator, n: int, female: np.ndarray, surname: np.ndarray | None = None) -> Names:
    """Chinese personal names; two-character given names for about two thirds."""
    if surname is None:
        surname = r.choice(len(_SUR_W), size=n, p=_SUR_W)
    pick = np.where(female, _N_MALE + r.integers(0, _N_FEMALE, n), r.integers(0, _N_MALE, n))
    pick2 = np.where(female, _N_MALE + r.integers(0, _N_FEMALE, n), r.integers(0, _N_MALE, n))
    given2 = np.where(r.random(n) < 0.65, pick2, _NO_CHAR)
    return Names(surname.astype(np.int64), pick.astype(np.int64), given2.astype(np.int64))


def unique_phones(r: np.random.Generator, n: int) -> np.ndarray:
    """``n`` distinct mainland mobile numbers as int64."""

    def fresh(k: int) -> np.ndarray:
        return MOBILE_PREFIXES[r.integers(0, len(MOBILE_PREFIXES), k)] * 100_000_000 + r.integers(0, 100_000_000, k)

    phones = fresh(n)
    while True:
        order = np.argsort(phones, kind="stable")
        dup = np.zeros(n, dtype=bool)
        dup[order[1:]] = phones[order][1:] == phones[order][:-1]
        if not dup.any():
            return phones
        phones[dup] = fresh(int(dup.sum()))


# --------------------------------------------------------------------------------------------------
# Offices


@dataclass
class Places:
    """Counties, townships and villages of each office (villages only in rural offices)."""

    county: list[list[str]]
    township: list[list[str]]
    village: pl.DataFrame  # village, township, office, weight


def make_offices(scale: Scale) -> pl.DataFrame:
    rows = vocab.OFFICES[: scale.offices]
    return pl.DataFrame(
        {
            "office_code": [f"OF{i + 1:03d}" for i in range(len(rows))],
            "name": [f"{city}办事处" for city, _, _, _ in rows],
            "region": [region for _, region, _, _ in rows],
            "is_rural": [rural for _, _, rural, _ in rows],
            "_city": [city for city, _, _, _ in rows],
            "_weight": [w for _, _, _, w in rows],
            "_day": [0] * len(rows),
        }
    )


def make_places(seed: int, offices: pl.DataFrame, rural_patients: np.ndarray) -> Places:
    r = rng(seed, "places")
    counties, townships, villages = [], [], []
    village_words = [s + suffix for s, _, _ in vocab.SURNAMES[:60] for suffix in vocab.VILLAGE_SUFFIXES]
    village_words += list(vocab.PLACE_WORDS)
    for o, rural in enumerate(offices["is_rural"]):
        words = r.permutation(len(vocab.PLACE_WORDS))
        counties.append([vocab.PLACE_WORDS[i] + "县" for i in words[:6]])
        n_town = 12 if rural else 6
        towns = [vocab.PLACE_WORDS[i] + ("镇" if r.random() < 0.7 else "乡") for i in words[6 : 6 + n_town]]
        townships.append(towns)
        if rural:
            # About one village per 80 rural patients, at least 12.
            n_village = int(min(len(village_words), max(12, rural_patients[o] // 80)))
            chosen = r.choice(len(village_words), size=n_village, replace=False)
            villages.append(
                pl.DataFrame(
                    {
                        "village": [village_words[i] + "村" for i in chosen],
                        "township": [towns[i % n_town] for i in range(n_village)],
                        "office": [o] * n_village,
                        "weight": r.gamma(2.0, 1.0, n_village),
                    }
                )
            )
    village = (
        pl.concat(villages)
        if villages
        else pl.DataFrame(
            schema={"village": pl.String, "township": pl.String, "office": pl.Int64, "weight": pl.Float64}
        )
    )
    return Places(counties, townships, village)


# --------------------------------------------------------------------------------------------------
# Staff


def make_staff(seed: int, scale: Scale, cal: Calendar, offices: pl.DataFrame) -> pl.DataFrame:
    """Office managers, team leads, reps (~60%), callback (~15%), home-visit (rural) and ops staff."""
    r = rng(seed, "staff")
    rural = offices["is_rural"].to_numpy()
    n_ops = 1 if scale.staff < 200 else 2
    per_office = split_counts(scale.staff - n_ops, offices["_weight"].to_numpy())
    office, role, team, manager = [], [], [], []
    base = 0
    for o, n in enumerate(per_office):
        n_home = max(2, round(0.12 * n)) if rural[o] else 0
        n_callback = max(1, round((0.16 if rural[o] else 0.2) * n))
        rest = n - 1 - n_home - n_callback
        n_leads = max(0, round(rest / 7))
        n_reps = rest - n_leads
        n_teams = int(np.clip(round(n_reps / 6), 2, 4))
        teams = np.array(("GEN", "CV", "ONC", "CNS") if rural[o] else vocab.TEAMS)[:n_teams]
        lead_team = teams[np.arange(n_leads) % n_teams]
        rep_team = teams[np.arange(n_reps) % n_teams]
        # A rep reports to the lead of their team, else to the office manager (index ``base``).
        lead_index = {t: base + 1 + i for i, t in reversed(list(enumerate(lead_team)))}
        rep_manager = np.array([lead_index.get(t, base) for t in teams], dtype=np.int64)[np.arange(n_reps) % n_teams]
        office.append(np.full(n, o))
        role.append(
            np.array(
                ["manager"] * (1 + n_leads) + ["rep"] * n_reps + ["callback"] * n_callback + ["home_visit"] * n_home
            )
        )
        team.append(np.concatenate([[None], lead_team, rep_team, [None] * (n_callback + n_home)]).astype(object))
        manager.append(np.concatenate([[-1], np.full(n_leads, base), rep_manager, np.full(n_callback + n_home, base)]))
        base += n
    office.append(np.zeros(n_ops, dtype=np.int64))
    role.append(np.array(["ops"] * n_ops))
    team.append(np.array([None] * n_ops, dtype=object))
    manager.append(np.full(n_ops, -1))
    office_a, role_a = np.concatenate(office), np.concatenate(role)
    team_a, manager_a = np.concatenate(team), np.concatenate(manager).astype(np.int64)
    n = len(role_a)

    # Reps hired during the range: each appears on its day with a batch of new customers.
    reps = np.flatnonzero(role_a == "rep")
    n_hires = max(1, round(0.02 * len(reps))) if cal.days >= 28 else 0
    day = np.zeros(n, dtype=np.int64)
    hires = r.choice(reps, size=min(n_hires, len(reps)), replace=False)
    day[hires] = r.integers(min(7, cal.days - 1), max(8, cal.days - 7), len(hires))
    active = np.ones(n, dtype=bool)
    # A few reps who left (active=0) but still own their customers; in big sets one callback too.
    initial_reps = np.setdiff1d(reps, hires)
    active[r.choice(initial_reps, size=max(1, round(0.03 * len(initial_reps))), replace=False)] = False
    if n >= 200:
        active[r.choice(np.flatnonzero(role_a == "callback"), size=1)] = False

    female = r.random(n) < np.where(np.isin(role_a, ["callback", "home_visit"]), 0.8, 0.45)
    names = draw_names(r, n, female)
    numbers = pl.Series(r.permutation(9000)[:n] + 1000).cast(pl.String)
    staff_ids = ids("", np.arange(n) + 1001, 6)
    return pl.DataFrame(
        {
            "staff_id": staff_ids,
            "name": names.chinese(),
            "role": role_a,
            "email": names.pinyin_local_part() + "." + numbers + "@keqing.example.com",
            "office_code": offices["office_code"].gather(office_a),
            "manager_id": pick_or_null(staff_ids, manager_a),
            "team": strs(team_a),
            "active": active,
            "_office": office_a,
            "_day": day,
        }
    )


# Calls due a day that offices staffed by demand plan per nurse (a nurse makes up to 40; seed 000).
STAFFED_FOR = 36


def staff_callbacks_by_demand(
    seed: int, staff: pl.DataFrame, patients: pl.DataFrame, demand: np.ndarray, per_nurse: int = STAFFED_FOR
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hire callback staff until each office has round(its daily callback demand / ``per_nurse``) of them
    (seed 000, 第三环: 40 calls a person a day, staff added as the patient list grows), and share the
    office's patients evenly among all its callback staff again (in random order, one each in turn).
    Offices are staffed for ``per_nurse`` = 36 calls a day, a tenth under the 40 a nurse can make, as a
    nurse's calls due on a given day vary with her patients' purchases: most nurses end at or under 40
    and some a little over.

    ``demand``: calls due per working day per office (``visits.callback_demand``). New staff are
    appended (existing indexes stay valid), active from the first day, reporting to the office manager.
    """
    r = rng(seed, "callback-staffing")
    role, active, office = staff["role"].to_numpy(), staff["active"].to_numpy(), staff["_office"].to_numpy()
    have = np.bincount(office[(role == "callback") & active], minlength=len(demand))
    hire = np.maximum(np.round(demand / per_nurse).astype(np.int64) - have, 0)
    n_new = int(hire.sum())
    if n_new == 0:
        return staff, patients
    new_office = np.repeat(np.arange(len(demand)), hire)
    heads = staff.filter((pl.col("role") == "manager") & pl.col("manager_id").is_null())
    head_of = dict(zip(heads["_office"].to_list(), heads["staff_id"].to_list(), strict=True))
    names = draw_names(r, n_new, r.random(n_new) < 0.8)
    used = staff["email"].str.extract(r"\.(\d{4})@").cast(pl.Int64).to_numpy()
    numbers = pl.Series(r.choice(np.setdiff1d(np.arange(1000, 10_000), used), n_new, replace=False)).cast(pl.String)
    offices_code = dict(zip(staff["_office"].to_list(), staff["office_code"].to_list(), strict=False))
    hired = pl.DataFrame(
        {
            "staff_id": ids("", np.arange(n_new) + 1001 + staff.height, 6),
            "name": names.chinese(),
            "role": ["callback"] * n_new,
            "email": names.pinyin_local_part() + "." + numbers + "@keqing.example.com",
            "office_code": [offices_code[o] for o in new_office.tolist()],
            "manager_id": [head_of.get(o) for o in new_office.tolist()],
            "team": pl.Series([None] * n_new, dtype=pl.String),
            "active": np.ones(n_new, dtype=bool),
            "_office": new_office,
            "_day": np.zeros(n_new, dtype=np.int64),
        },
        schema=staff.schema,
    )
    staff = pl.concat([staff, hired])
    s_role, s_active, s_office = staff["role"].to_numpy(), staff["active"].to_numpy(), staff["_office"].to_numpy()
    old = patients["_callback"].to_numpy()
    # Patients with a nurse get one of the office's (now larger) callback staff in turn, in a random
    # order, so each has the same number of patients (give or take one); the ~3% without stay so.
    nurses = np.flatnonzero((s_role == "callback") & s_active)
    nurses = nurses[np.argsort(s_office[nurses], kind="stable")]
    lo = np.searchsorted(s_office[nurses], np.arange(len(demand)), side="left")
    count = np.searchsorted(s_office[nurses], np.arange(len(demand)), side="right") - lo
    p_office = patients["_office"].to_numpy()
    has = np.flatnonzero((old >= 0) & (count[p_office] > 0))
    has = has[np.lexsort((r.random(len(has)), p_office[has]))]
    turn = group_rank(p_office[has]) % count[p_office[has]]
    callback = np.full(len(old), -1, dtype=np.int64)
    callback[has] = nurses[lo[p_office[has]] + turn]
    patients = patients.with_columns(
        pl.Series("_callback", callback), pick_or_null(staff["staff_id"], callback).alias("callback_staff_id")
    )
    return staff, patients


# --------------------------------------------------------------------------------------------------
# Products


def make_products(scale: Scale) -> pl.DataFrame:
    rows = vocab.PRODUCTS if scale.offices > 2 else vocab.PRODUCTS[:10]
    return pl.DataFrame(
        {
            "product_code": [p[0] for p in rows],
            "name": [p[1] for p in rows],
            "units_per_box": [float(p[2]) for p in rows],
            "daily_units": [float(p[3]) for p in rows],
            "price_per_box": [p[4] for p in rows],
            "_team": [p[5] for p in rows],
            "_disease": [p[6] for p in rows],
            "_day": [0] * len(rows),
        }
    )


def days_per_box(products: pl.DataFrame) -> np.ndarray:
    return (products["units_per_box"] / products["daily_units"]).to_numpy()


# --------------------------------------------------------------------------------------------------
# Customers


def _lookup(values: np.ndarray, mapping: dict[str, str]) -> np.ndarray:
    return strs(values).replace_strict(mapping).to_numpy().astype(object)


def _hospitals(city: str, rural: bool, counties: list[str]) -> list[str]:
    if rural:
        names = [f"{city}市人民医院", f"{city}市中医院", f"{city}市第二人民医院", f"{city}市肿瘤医院"]
        names += [f"{c}人民医院" for c in counties] + [f"{c}中医院" for c in counties]
        return names
    names = [p.format(c=city) for p in vocab.CITY_HOSPITALS]
    names += [f"{city}市{d}区人民医院" for d in vocab.DISTRICTS] + [f"{c}人民医院" for c in counties]
    return names


def make_customers(
    seed: int, scale: Scale, cal: Calendar, offices: pl.DataFrame, staff: pl.DataFrame, places: Places
) -> pl.DataFrame:
    """Doctors (~55%), non-prescribers (~20%) and third-terminal customers (~25%)."""
    r = rng(seed, "customers")
    n_off = offices.height
    rural = offices["is_rural"].to_numpy()
    cities = offices["_city"].to_list()
    role = staff["role"].to_numpy()
    s_office = staff["_office"].to_numpy()
    s_team = staff["team"].fill_null("").to_numpy()
    s_day = staff["_day"].to_numpy()
    s_active = staff["active"].to_numpy()

    # Who appears when: initial customers, a batch per hired rep, and a trickle of new ones.
    hires = np.flatnonzero((role == "rep") & (s_day > 0))
    batch = r.integers(8, 26, len(hires))
    n_trickle = round(0.02 * scale.customers * cal.days / scale.days) if cal.days >= 28 else 0
    n_initial = scale.customers - int(batch.sum()) - n_trickle
    n = scale.customers
    day = np.zeros(n, dtype=np.int64)
    owner = np.full(n, -1, dtype=np.int64)
    office = np.empty(n, dtype=np.int64)
    office[:n_initial] = np.repeat(np.arange(n_off), split_counts(n_initial, offices["_weight"].to_numpy()))
    pos = n_initial
    for h, k in zip(hires, batch, strict=True):
        office[pos : pos + k] = s_office[h]
        owner[pos : pos + k] = h
        day[pos : pos + k] = np.minimum(s_day[h] + r.integers(0, 21, k), cal.days - 1)
        pos += k
    office[pos:] = r.choice(n_off, size=n - pos, p=offices["_weight"].to_numpy() / offices["_weight"].sum())
    day[pos:] = r.integers(1, max(2, cal.days), n - pos)

    u = r.random(n)
    kind = np.where(u < 0.55, "doctor", np.where(u < 0.75, "nonprescriber", "terminal"))
    is_doc, is_n, is_t = kind == "doctor", kind == "nonprescriber", kind == "terminal"

    # Departments follow the teams present in the office, so every doctor has a matching rep.
    dept_names = np.array([d for d, _ in vocab.DEPARTMENTS])
    dept_team = np.array([t for _, t in vocab.DEPARTMENTS])
    office_teams = [set(s_team[(s_office == o) & (role == "rep")]) - {""} for o in range(n_off)]
    dept = np.empty(n, dtype=object)
    for o in range(n_off):
        allowed = np.flatnonzero(np.isin(dept_team, list(office_teams[o])))
        sel = np.flatnonzero(is_doc & (office == o))
        dept[sel] = dept_names[allowed[r.integers(0, len(allowed), len(sel))]]
    team = np.full(n, "", dtype=object)
    team[is_doc] = _lookup(dept[is_doc], dict(vocab.DEPARTMENTS))

    # Title: doctors by seniority, N customers by function, terminals by their contact's role.
    title = np.full(n, None, dtype=object)
    dt = vocab.DOCTOR_TITLES
    title[is_doc] = np.array([t for t, _ in dt])[r.choice(len(dt), is_doc.sum(), p=[w for _, w in dt])]
    nt = vocab.NONPRESCRIBER_TITLES
    n_pick = r.choice(len(nt), is_n.sum(), p=[w for _, _, w, _ in nt])
    title[is_n] = np.array([t for t, _, _, _ in nt])[n_pick]
    n_dept = np.array([d for _, d, _, _ in nt], dtype=object)[n_pick]
    clinical = dept_names[r.integers(0, len(dept_names), is_n.sum())]
    dept[is_n] = np.where(n_dept == "", clinical, n_dept)

    # Institutions: hospitals for doctors and N customers (big hospitals hold more of them).
    institution = np.empty(n, dtype=object)
    for o in range(n_off):
        hospitals = _hospitals(cities[o], bool(rural[o]), places.county[o])
        sel = np.flatnonzero((is_doc | is_n) & (office == o))
        needed = max(3, min(len(hospitals), round(len(sel) / 30)))
        w = 1.0 / np.arange(1, needed + 1) ** 0.8
        h = r.choice(needed, size=len(sel), p=w / w.sum())
        institution[sel] = np.array(hospitals, dtype=object)[h]

    # Terminals: type by office kind, institution names from places and brands.
    tt = vocab.TERMINAL_TYPES
    t_type = np.full(n, None, dtype=object)
    for o in range(n_off):
        sel = np.flatnonzero(is_t & (office == o))
        p = np.array([row[2] if rural[o] else row[1] for row in tt])
        pick = r.choice(len(tt), size=len(sel), p=p / p.sum())
        t_type[sel] = np.array([row[0] for row in tt], dtype=object)[pick]
        towns = np.array(places.township[o], dtype=object)
        counties = np.array(places.county[o], dtype=object)
        vill = places.village.filter(pl.col("office") == o)["village"].to_numpy()
        if len(vill) == 0:
            vill = np.array([w + "村" for w in vocab.PLACE_WORDS], dtype=object)
        k = len(sel)
        surname = _SUR.to_numpy()[r.choice(len(_SUR_W), size=k, p=_SUR_W)]
        brand = np.array(vocab.PHARMACY_BRANDS, dtype=object)[r.integers(0, len(vocab.PHARMACY_BRANDS), k)]
        suffix = np.array(vocab.PHARMACY_SUFFIXES, dtype=object)[r.integers(0, 4, k)]
        branch = np.where(
            r.random(k) < 0.6,
            "（" + np.array(vocab.PLACE_WORDS, dtype=object)[r.integers(0, len(vocab.PLACE_WORDS), k)] + "店）",
            "",
        )
        word = np.array(vocab.CLINIC_WORDS, dtype=object)[r.integers(0, len(vocab.CLINIC_WORDS), k)]
        county_names = (
            counties[r.integers(0, len(counties), k)]
            + np.array(["人民医院", "中医院", "第二人民医院"], dtype=object)[r.integers(0, 3, k)]
        )
        clinic = np.where(r.random(k) < 0.5, surname + "氏诊所", towns[r.integers(0, len(towns), k)] + word + "诊所")
        names = {
            "county_hospital": county_names,
            "township_hospital": towns[r.integers(0, len(towns), k)] + "卫生院",
            "village_clinic": vill[r.integers(0, len(vill), k)] + "卫生室",
            "private_clinic": clinic,
            "pharmacy": brand + suffix + branch,
        }
        types = t_type[sel]
        inst = np.empty(k, dtype=object)
        for name, values in names.items():
            inst[types == name] = values[types == name]
        institution[sel] = inst
    title[is_t] = _lookup(t_type[is_t], {row[0]: row[5] for row in tt})

    # Owners: a rep of the office and team (any rep of the office for N customers and terminals).
    rep_mask = role == "rep"
    initial_rep = rep_mask & (s_day == 0)
    team_codes = {t: i for i, t in enumerate(("", *vocab.TEAMS))}
    rep_key = s_office * 10 + np.array([team_codes[t] for t in s_team])
    cust_team = np.array([team_codes[t] for t in team])
    need = owner < 0
    # Initial customers go to any initial rep (active or not); later ones only to active reps.
    doc_owner = pick_within(r, np.where(initial_rep, rep_key, -1), office * 10 + cust_team)
    any_owner = pick_within(r, np.where(initial_rep, s_office, -1), office)
    owner[need] = np.where(is_doc[need] & (doc_owner[need] >= 0), doc_owner[need], any_owner[need])
    late = (day > 0) & (owner >= 0) & ~s_active[np.maximum(owner, 0)]
    if late.any():
        act = pick_within(r, np.where(initial_rep & s_active, s_office, -1), office[late])
        owner[np.flatnonzero(late)] = np.where(act >= 0, act, owner[late])

    kol = np.where(is_doc, r.random(n) < np.where(title == "主任医师", 0.25, 0.02), False)
    kol |= is_n & np.isin(title, ["院办领导", "药剂科主任"]) & (r.random(n) < 0.2)

    female = r.random(n) < 0.5
    names = draw_names(r, n, female).chinese()
    order = np.lexsort((r.random(n), day))
    frame = pl.DataFrame(
        {
            "name": names,
            "kind": kind,
            "institution": strs(institution),
            "department": strs(np.where(is_t, None, dept)),
            "title": strs(title),
            "terminal_type": strs(t_type),
            "is_kol": kol,
            "owner_staff_id": staff["staff_id"].gather(owner),
            "office_code": offices["office_code"].gather(office),
            "_office": office,
            "_owner": owner,
            "_team": strs(team),
            "_day": day,
        }
    )[order]
    return frame.insert_column(0, ids("C", np.arange(1, n + 1), 7).alias("customer_id"))


# --------------------------------------------------------------------------------------------------
# Patients


# How a patient came: codes of the ``_origin`` column.
ORIGINS = ("initial", "consult", "free_clinic", "store", "phone")
INITIAL, CONSULT, FREE_CLINIC, STORE, PHONE = range(len(ORIGINS))


@dataclass
class Arrivals:
    """Patients who arrive through a consult; the consult generator made them."""

    office: np.ndarray
    day: np.ndarray
    staff: np.ndarray  # the staff member who took the call (-1 if none)
    calls: int = 0  # consult calls in all, buyers or not (each needs a phone)


def patient_split(scale: Scale, offices: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Patients per office (rural offices carry more patients: village free clinics)."""
    w = offices["_weight"].to_numpy() * np.where(offices["is_rural"].to_numpy(), 1.4, 1.0)
    per_office = split_counts(scale.patients, w)
    rural_patients = np.where(offices["is_rural"].to_numpy(), per_office, 0)
    return per_office, rural_patients


def make_patients(
    seed: int,
    scale: Scale,
    cal: Calendar,
    offices: pl.DataFrame,
    staff: pl.DataFrame,
    products: pl.DataFrame,
    places: Places,
    consult_arrivals: Arrivals,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """Patients with the attributes their purchases depend on, and the free-clinic events.

    Returns ``(patients, events, spare_phones)``; the spare phones are for consults that never buy.
    Private columns: ``_office``, ``_product``, ``_first`` (day of the first purchase, may be past the
    range), ``_first_boxes``, ``_origin`` (an ORIGINS code), ``_event``, ``_callback``, ``_home`` (staff
    indexes, -1 for none), ``_staff`` (who handled the first purchase), ``_village``, ``_consult``.
    """
    r = rng(seed, "patients")
    per_office, _ = patient_split(scale, offices)
    rural = offices["is_rural"].to_numpy()
    n_off = offices.height
    dpb = days_per_box(products)
    p_disease = products["_disease"].to_numpy()

    n_initial = np.round(per_office * scale.initial_patients).astype(np.int64)
    n_consult = np.bincount(consult_arrivals.office, minlength=n_off)
    # New patients arrive at the scale's rate: a longer or shorter range gets more or fewer of them.
    arriving = np.round((per_office - n_initial) * cal.days / scale.days).astype(np.int64)
    n_other = np.maximum(arriving - n_consult, 0) if cal.days > 1 else np.zeros_like(arriving)
    rural_event = np.where(rural, np.round(n_other * 0.7).astype(np.int64), 0)
    n_walk = n_other - rural_event

    # Free-clinic events in villages: 8-30 buyers, most of them buy the same quantity.
    event_rows = []
    village = places.village
    for o in np.flatnonzero(rural_event > 0):
        need = int(rural_event[o])
        sizes = r.integers(8, 31, need // 8 + 2)
        k = int(np.searchsorted(np.cumsum(sizes), need)) + 1
        sizes = sizes[:k]
        sizes[-1] -= int(sizes.sum()) - need
        if sizes[-1] < 8 and k > 1:
            sizes[-2] += sizes[-1]
            sizes = sizes[:-1]
        v = village.with_row_index("vi").filter(pl.col("office") == o)
        w = v["weight"].to_numpy()
        event_rows.append(
            pl.DataFrame(
                {
                    "office": np.full(len(sizes), o),
                    "day": np.sort(r.integers(1, max(2, cal.days), len(sizes))),
                    "village": v["vi"].to_numpy()[r.choice(len(w), len(sizes), p=w / w.sum())].astype(np.int64),
                    "size": sizes,
                }
            )
        )
    events = (
        pl.concat(event_rows)
        if event_rows
        else pl.DataFrame(schema={"office": pl.Int64, "day": pl.Int64, "village": pl.Int64, "size": pl.Int64})
    )
    n_ev = events.height
    # The promoted product and the common quantity: a course of about a month or two.
    disease_w = np.array([w for _, w in vocab.DISEASES])
    ev_disease = r.choice(len(disease_w), n_ev, p=disease_w / disease_w.sum())
    ev_product = _product_for_disease(r, ev_disease, p_disease)
    course = r.choice([30, 45, 60], n_ev, p=[0.5, 0.3, 0.2])
    ev_modal = np.clip(np.round(course / dpb[ev_product]), 2, 12).astype(np.int64)
    events = events.with_columns(product=ev_product, modal=ev_modal).with_row_index("event")

    # All patients, office by office: initial, consult, event and walk-in arrivals.
    office = np.concatenate(
        [
            np.repeat(np.arange(n_off), n_initial),
            consult_arrivals.office,
            np.repeat(events["office"].to_numpy(), events["size"].to_numpy()),
            np.repeat(np.arange(n_off), n_walk),
        ]
    )
    n = len(office)
    n_i, n_c, n_e = int(n_initial.sum()), len(consult_arrivals.office), int(events["size"].sum())
    origin = np.repeat(
        np.array([INITIAL, CONSULT, FREE_CLINIC, STORE], dtype=np.int8), [n_i, n_c, n_e, n - n_i - n_c - n_e]
    )
    walk = origin == STORE
    origin[walk & (r.random(n) < 0.15)] = PHONE
    event = np.full(n, -1, dtype=np.int64)
    event[n_i + n_c : n_i + n_c + n_e] = np.repeat(events["event"].to_numpy(), events["size"].to_numpy())
    is_event = event >= 0
    ev = np.maximum(event, 0)
    day = np.zeros(n, dtype=np.int64)
    day[origin == CONSULT] = consult_arrivals.day
    day[is_event] = events["day"].to_numpy()[ev[is_event]]
    day[walk] = r.integers(1, max(2, cal.days), int(walk.sum()))

    # Disease and product; event buyers take the promoted product.
    disease = r.choice(len(disease_w), n, p=disease_w / disease_w.sum())
    product = _product_for_disease(r, disease, p_disease)
    product[is_event] = events["product"].to_numpy()[ev[is_event]]
    disease_names = np.array([d for d, _ in vocab.DISEASES], dtype=object)
    disease_text = np.where(is_event, p_disease[product], disease_names[disease])

    # Preferred quantity: a course of 1-8 weeks mostly; boxes mostly 1-10, a few larger.
    cover = r.choice(
        [7, 10, 14, 15, 20, 28, 30, 45, 60, 90], n, p=[0.14, 0.16, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.03, 0.02]
    )
    # At least a week's supply (two boxes of a four-day pack).
    boxes = np.maximum(np.ceil(7 / dpb[product]), np.round(cover / dpb[product])).astype(np.int64)
    first_boxes = boxes.copy()
    # Event quantities: a majority buy the common quantity, the others a different one.
    if n_e:
        first_boxes[is_event] = _event_quantities(r, events, event[is_event])

    # Rural patients live in a village (event buyers: the event's village).
    vi = np.full(n, -1, dtype=np.int64)
    vi[is_event] = events["village"].to_numpy()[ev[is_event]]
    v_office = village["office"].to_numpy()
    v_weight = village["weight"].to_numpy()
    need_village = rural[office] & ~is_event
    if need_village.any():
        # Weighted village within the office: sort villages by office, sample by cumulative weight.
        order = np.argsort(v_office, kind="stable")
        cum = np.cumsum(v_weight[order])
        lo = np.searchsorted(v_office[order], office[need_village], side="left")
        hi = np.searchsorted(v_office[order], office[need_village], side="right")
        base = np.where(lo > 0, cum[lo - 1], 0.0)
        target = base + r.random(int(need_village.sum())) * (cum[hi - 1] - base)
        vi[need_village] = order[np.minimum(np.searchsorted(cum, target, side="right"), hi - 1)]

    # Staff: callback staff of the office (~3% without), home-visit staff by village.
    role = staff["role"].to_numpy()
    s_office = staff["_office"].to_numpy()
    s_active = staff["active"].to_numpy()
    callback = pick_within(r, np.where((role == "callback") & s_active, s_office, -1), office)
    callback[r.random(n) < 0.03] = -1
    v_staff = pick_within(r, np.where((role == "home_visit") & s_active, s_office, -1), v_office)
    home = np.where(vi >= 0, v_staff[np.maximum(vi, 0)], -1)

    first = day.copy()
    init = origin == INITIAL
    # Initial patients are mid-course: their next purchase falls within their current supply.
    supply = np.floor(boxes * dpb[product]).astype(np.int64)
    first[init] = np.floor(r.random(int(init.sum())) * np.minimum(supply[init] + 1, 45)).astype(np.int64)
    handled = np.full(n, -1, dtype=np.int64)
    handled[origin == CONSULT] = consult_arrivals.staff
    handled[is_event] = home[is_event]
    handled[origin == PHONE] = callback[origin == PHONE]

    female = r.random(n) < 0.5
    names = draw_names(r, n, female)
    age = np.clip(np.round(r.normal(62, 11, n)), 28, 92).astype(np.int64)
    informed = r.random(n) >= np.where(disease_text == "肿瘤术后", 0.45, 0.05)
    rel = vocab.CONTACT_RELATIONS
    rel_pick = r.choice(len(rel), n, p=[w for _, w, _ in rel])
    same = np.array([s for _, _, s in rel])[rel_pick]
    c_female = np.isin(np.array([x for x, _, _ in rel])[rel_pick], ["女儿", "儿媳", "孙女"]) | (
        (np.array([x for x, _, _ in rel])[rel_pick] == "配偶") & ~female
    )
    c_sur = np.where(same, names.surname, r.choice(len(_SUR_W), size=n, p=_SUR_W))
    contact = draw_names(r, n, c_female, c_sur).chinese()
    relation_names = pl.Series([x for x, _, _ in rel])
    phones = unique_phones(r, n + _consult_phone_reserve(scale, cal, consult_arrivals.calls))
    order = np.lexsort((r.random(n), day))
    patients = pl.DataFrame(
        {
            "name": names.chinese(),
            "phone": pl.Series(phones[:n]).cast(pl.String),
            "gender": np.where(female, "F", "M"),
            "age": age,
            "disease": strs(disease_text),
            "village": pick_or_null(village["village"], vi),
            "township": pick_or_null(village["township"], vi),
            "office_code": offices["office_code"].gather(office),
            "callback_staff_id": pick_or_null(staff["staff_id"], callback),
            "home_visit_staff_id": pick_or_null(staff["staff_id"], home),
            "informed": informed,
            # The contact person matters only when the patient does not know the diagnosis.
            "contact_name": pick_or_null(contact, np.where(informed, -1, np.arange(n))),
            "contact_relation": pick_or_null(relation_names, np.where(informed, -1, rel_pick)),
            "_office": office,
            "_product": product,
            "_boxes": boxes,
            "_first": first,
            "_first_boxes": first_boxes,
            "_origin": origin,
            "_event": event,
            "_callback": callback,
            "_home": home,
            "_staff": handled,
            "_village": vi,
            "_consult": np.where(origin == CONSULT, np.cumsum(origin == CONSULT) - 1, -1),
            "_day": day,
        }
    )[order]
    patients = patients.insert_column(0, ids("P", np.arange(1, n + 1), 7).alias("patient_id"))
    return patients, events, pl.Series(phones[n:])


def _consult_phone_reserve(scale: Scale, cal: Calendar, calls: int) -> int:
    """Phones set aside for consults of people who never buy (drawn with the patients' phones): one per
    consult call at least. The estimate follows the generated range (``cal.days``), not the scale's
    default one: with the default's estimate a longer ``--days`` ran out of phones."""
    return max(int(scale.offices * cal.days * scale.consults_per_office_day * 1.5) + 100, calls)


def _product_for_disease(r: np.random.Generator, disease: np.ndarray, p_disease: np.ndarray) -> np.ndarray:
    """A product that treats each disease (uniform among the products for it)."""
    names = [d for d, _ in vocab.DISEASES]
    out = np.zeros(len(disease), dtype=np.int64)
    for i, name in enumerate(names):
        sel = disease == i
        options = np.flatnonzero(p_disease == name)
        if len(options) == 0:
            options = np.arange(len(p_disease))
        out[sel] = options[r.integers(0, len(options), int(sel.sum()))]
    return out


def _event_quantities(r: np.random.Generator, events: pl.DataFrame, event_of_buyer: np.ndarray) -> np.ndarray:
    """Boxes of each buyer: a strict majority of each event buy its common quantity."""
    size = events["size"].to_numpy()
    modal = events["modal"].to_numpy()
    share = r.uniform(0.55, 0.8, len(size))
    n_modal = np.maximum(size // 2 + 1, np.round(share * size)).astype(np.int64)
    # Rank of each buyer within its event (buyers of an event are contiguous).
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    rank = np.arange(len(event_of_buyer)) - np.repeat(starts, size)
    is_modal = rank < n_modal[event_of_buyer]
    m = modal[event_of_buyer]
    other = m + r.choice([-3, -2, -1, 1, 2, 3, 5], len(m), p=[0.1, 0.25, 0.15, 0.15, 0.15, 0.1, 0.1])
    other = np.where(other < 1, m + 1, other)
    return np.where(is_modal, m, other).astype(np.int64)
