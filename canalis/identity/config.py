"""Settings of identity resolution, every one documented; the defaults suit retail customer data."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from canalis.mappings.normalize.emails import ROLE_LOCAL_PARTS

DETERMINISTIC_KINDS: tuple[str, ...] = ("external_id", "loyalty_id", "email", "phone")
BLOCK_SIZE_LIMITS: dict[str, int] = {
    "full_name": 15, "email_local": 20, "names": 25, "family_given_postcode": 30, "birth_given": 50,
    "birth_family": 50, "birth_postcode": 50, "birth_city": 50, "given_postcode": 20, "given_city": 15,
    "family_city": 15, "given_street": 20, "family_street": 20, "number_postcode": 25, "number_street": 20,
    "street_city": 15, "street_postcode": 30, "street_sound_postcode": 30, "given_number": 6, "family_number": 6,
    "birth_number": 20,
}  # fmt: skip


class IdentityConfig(BaseModel):
    """How records are normalised, linked, clustered and merged into golden records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_region: str = Field(
        "FR", description="ISO country used to read national phone numbers and postcodes of records with no country."
    )
    infer_region: bool = Field(
        True,
        description="When most records with no country have postcodes that are not valid in default_region as "
        "written, read them as of an unknown country: postcodes compared as written, national phone numbers by "
        "their digits. The choice is made on a full run and kept with the model for incremental runs.",
    )
    deterministic_keys: tuple[str, ...] = Field(
        DETERMINISTIC_KINDS,
        description="Strong keys that link records outright, strongest first: external_id, loyalty_id, email, phone.",
    )
    match_probability: float = Field(
        0.95, ge=0.5, lt=1.0, description="Posterior probability above which a scored pair is linked."
    )
    review_probability: float = Field(
        0.5,
        ge=0.0,
        lt=1.0,
        description="Pairs scored between this and match_probability are not linked but proposed for review "
        "(identity_proposed_merges, `canalis identity review`).",
    )
    link_on_names_alone: bool = Field(
        False,
        description="Always link scored pairs whose only evidence is the names (every other field missing on one "
        "side). Off: such a pair is linked only when its records meet a single group of records that way; a record "
        "whose names match two groups nothing else joins (namesakes) is proposed for review instead.",
    )
    large_profile_records: int = Field(
        10,
        ge=0,
        description="A scored link that would join two profiles of at least this many records each is not "
        "applied but proposed for review (0: never).",
    )
    split_weak_bridges: bool = Field(
        True,
        description="Split a cluster held together by a single scored link below bridge_probability, with two or "
        "more records on each side; the link is proposed for review.",
    )
    bridge_probability: float = Field(
        0.99, ge=0.0, le=1.0, description="Scored links below this may be split off as weak bridges."
    )
    one_record_per_source: tuple[str, ...] = Field(
        (),
        description="Sources that never hold two records of one person (a register with unique customers): "
        "their records are never merged with each other, except by a steward.",
    )
    register_sources: tuple[str, ...] | None = Field(
        None,
        description="Sources holding one record per person (registers), for the one-to-one constraint: a doubtful "
        "pair across two registers whose records are both still unmatched on the other side and each other's "
        "single best candidate is linked. None: learned from the data on a full run (a source matched to other "
        "sources often and within itself almost never); (): no constraint. one_record_per_source sources count too.",
    )
    auto_accept_probability: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Review policy: proposed merges scored at or above this are accepted automatically "
        "(recorded as decided by `policy`). None: left to stewards.",
    )
    auto_reject_below: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Review policy: proposed merges scored below this are rejected automatically. None: left to "
        "stewards.",
    )
    max_records_per_key: int = Field(
        20, ge=2, description="A key value held by more records than this is no longer a deterministic key."
    )
    max_people_per_key: int = Field(
        3,
        ge=1,
        description="A key value whose records disagree into more distinct people (names, birth dates) than this "
        "is not used at all; with fewer, it links only records that agree with each other.",
    )
    max_block_size: int = Field(
        200, ge=2, description="Blocks with more records than this are too unspecific and are not compared."
    )
    block_size_limits: dict[str, int] = Field(
        default_factory=lambda: dict(BLOCK_SIZE_LIMITS),
        description="Smaller limits for blocking keys that gather many unrelated people when common: a full "
        "name shared by dozens of records, an email local part (jean.martin) used on many domains, a given name "
        "or a street name in a large city. Records in such blocks still meet through their other blocking keys.",
    )

    def block_limits(self) -> dict[str, int]:
        """The size limit of every blocking key kind."""
        from canalis.identity.blocking import BLOCK_KINDS

        return {kind: min(self.block_size_limits.get(kind, self.max_block_size), self.max_block_size)
                for kind in BLOCK_KINDS}  # fmt: skip

    max_cluster_size: int = Field(
        40, ge=2, description="A link that would grow a cluster past this size is refused and the cluster flagged."
    )
    conflict_weight: float = Field(
        10.0,
        ge=0.0,
        description="Two clusters are not joined by an email, phone or scored link when a pair of records across "
        "them has evidence against being one person beyond this many bits (log2 odds) from contact details, "
        "address and birth date: different emails, phones and addresses together.",
    )
    given_name_conflict_below: float = Field(
        0.85,
        ge=0.0,
        le=1.0,
        description="Given names with a Jaro-Winkler similarity below this (and no initial or prefix relation) "
        "conflict: such records are merged only by external ids, loyalty numbers or a steward.",
    )
    birth_date_error_rate: float = Field(
        0.03,
        ge=0.0,
        le=1.0,
        description="When EM learns that more than this share of matching pairs hold unrelated birth dates (a date "
        "replaced, as in some legacy or keyed-in data), a birth date conflict no longer vetoes a scored link whose "
        "given names agree; below it (customer data, where such a conflict means a namesake) it does.",
    )
    role_email_local_parts: frozenset[str] = Field(
        ROLE_LOCAL_PARTS, description="Local parts (contact, info...) of role addresses, never a person's key."
    )
    ignored_key_values: dict[str, frozenset[str]] = Field(
        default_factory=dict,
        description="Key values never used, per key kind, e.g. {'phone': {'+33100000000'}} for a store's number.",
    )
    external_id_systems: dict[str, str] = Field(
        default_factory=dict,
        description="Names used in external_ids mapped to the source name of that system, e.g. {'sfdc': 'salesforce'}.",
    )
    source_priority: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Golden record: sources by trust, best first, per field or field group (name, address) or '*'. "
        "Unlisted sources come after listed ones; ties are broken by recency, then completeness.",
    )
    min_birth_year: int = Field(1900, description="Birth dates before this year are treated as missing.")
    em_iterations: int = Field(30, ge=0, description="Maximum EM iterations when estimating m-probabilities.")
    em_sample_pairs: int = Field(300_000, ge=1000, description="Candidate pairs sampled for EM.")
    u_sample_pairs: int = Field(300_000, ge=1000, description="Random pairs sampled to estimate u-probabilities.")
    term_frequency_names: bool = Field(
        True, description="Weigh exact name agreement by how rare the name is (Martin counts less than Kerhervé)."
    )
    random_seed: int = Field(1729, description="Seed of the pair samples, so training is reproducible.")
    workers: int = Field(-1, description="Threads used by rapidfuzz for bulk comparisons (-1: all cores).")
