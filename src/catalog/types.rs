//! The vocabulary of the catalog: what a Dentally resource is, and what each of its fields is.
//!
//! The catalog is data, in one place (`docs/design.md` §1): the extractor reads paths, envelope
//! keys, scopes, keys and windows from here; the flattener reads field types from here and derives
//! the Arrow schema of every table (and child table) from them.

/// How one JSON field is typed in the output (the type contract of `docs/design.md` §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Integer ids and counts: Int64 (never unsigned).
    Int,
    /// GUID ids and GUID foreign keys: Utf8.
    Guid,
    /// Free or enumerated text: Utf8.
    Text,
    /// An id the API sends sometimes as a number, sometimes as a string: Utf8 (numbers rendered
    /// without a fraction).
    IdText,
    /// JSON booleans: Boolean.
    Bool,
    /// Money as decimal strings (`"-76.0"`) or numbers: Decimal128(18, 2). Values with more than
    /// two decimals or too large go to `_rejects`, never rounded.
    Money,
    /// Other decimals (UDA values, rates): Decimal128(18, 4).
    Decimal,
    /// Datetimes with the practice's offset: Timestamp(Microsecond, "UTC").
    Timestamp,
    /// `YYYY-MM-DD`: Date32.
    Date,
    /// Local time of day `HH:MM` (opening hours): Utf8, kept as sent.
    TimeOfDay,
    /// Array of scalars (`teeth`): List<Utf8> in Parquet, JSON text in CSV.
    TextList,
    /// Any JSON whose shape the API does not pin down (`metadata`, `custom_fields`): JSON text.
    Json,
}

/// Personal data tags, for the `pii = keep | hash | drop` policy (`docs/design.md` §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pii {
    /// Not personal data.
    None,
    /// Identifies a person directly (name, email, phone, address, NHS number, free-text notes).
    Direct,
}

/// One field of a record.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The JSON key, as the API spells it (typos included: `monthly_memberhsip_fee`).
    pub name: &'static str,
    /// What the field holds.
    pub kind: FieldKind,
    /// Whether the field is personal data.
    pub pii: Pii,
    /// How sure we are that the API sends this field with this type (api-evidence.md §2).
    /// Every constructor starts at [`Grade::B`], the grade of most field lists (fifteen
    /// resources match a live third-party pull field for field); weaker fields say so with
    /// [`Field::graded`].
    pub grade: Grade,
}

/// The shape of a field.
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// A scalar (or scalar list / JSON text) column.
    Scalar(FieldType),
    /// A nested object with known keys: flattened into `parent__child` columns.
    Object(&'static [Field]),
    /// An array of objects: a child table `<table>__<field>` with the parent key and `_idx`.
    Children(&'static [Field]),
}

/// How a resource's list must be requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// A plain paged list.
    None,
    /// The list is only usable inside a date window (`after` / `before`) on `field`;
    /// the extractor slices it into months.
    Required {
        /// Query parameter for the window start (`after`).
        after_param: &'static str,
        /// Query parameter for the window end (`before`).
        before_param: &'static str,
        /// The record field the window applies to (`start_time`, `day`).
        field: &'static str,
    },
    /// The list is fetched once per key of another list, as `fees` must be (once per
    /// treatment, `?treatment_id=<id>`). The run hands the parent's keys over when it reads the
    /// parent in full first; otherwise they are listed.
    PerParent {
        /// The parent resource (`treatments`).
        parent: &'static str,
        /// The query parameter carrying the parent's key (`treatment_id`).
        param: &'static str,
    },
}

/// Rows that show a required parameter took effect: without it the live API leaves them out
/// (appointments without `cancelled=true`: no Cancelled or Did-not-attend row), so a large read
/// holding none of them means the parameter was ignored. Checked, not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Witness {
    /// The required parameter (`cancelled`).
    pub param: &'static str,
    /// The field that shows it (`state`).
    pub field: &'static str,
    /// Values only the parameter brings (`Cancelled`, `Did not attend`).
    pub values: &'static [&'static str],
}

impl Window {
    /// What a per-parent list is asked per, for people: `treatment` for `treatment_id`.
    pub fn per_parent_noun(self) -> Option<&'static str> {
        match self {
            Self::PerParent { param, .. } => Some(param.trim_end_matches("_id")),
            _ => None,
        }
    }
}

/// Where rows that a bulk list skipped can be fetched one at a time:
/// `<parent path>/<key>/<suffix>` for each key of the parent (`patient_stats`:
/// `/v1/patients/{id}/stats`, api-evidence.md §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByKey {
    /// The resource whose keys address the rows (`patients`).
    pub parent: &'static str,
    /// The path segment after the key (`stats`).
    pub suffix: &'static str,
}

/// How sure we are of a catalog fact, in the grades of `../shared/docs/api-evidence.md`:
/// A is Dentally's own material, B was observed on the live API by a third party (B- needs an
/// inference step), C is third-party code written from the docs (C+ a single "verified"
/// claim), D is our guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Grade {
    /// Dentally's own material.
    A,
    /// Observed against the live API by a third party.
    B,
    /// B evidence that needs an inference step.
    BMinus,
    /// One client's "verified" reading.
    CPlus,
    /// Third-party code written from the docs.
    C,
    /// Our guess.
    D,
}

impl Grade {
    /// The grade as the evidence review writes it (`B-`).
    pub fn label(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::BMinus => "B-",
            Self::CPlus => "C+",
            Self::C => "C",
            Self::D => "D",
        }
    }
}

/// A pair of range parameters the list is believed to honour on one record field
/// (`updated_after`/`updated_before` on `updated_at`). Believed, not trusted: the extractor
/// checks on the answer that a filter took effect before relying on it (the live API silently
/// ignores parameters it does not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeFilter {
    /// The record field the bounds apply to (`updated_at`, `created_at`, `start_time`,
    /// `dated_on`, `day`).
    pub field: &'static str,
    /// Parameter for the inclusive lower bound (`updated_after`).
    pub after: &'static str,
    /// Parameter for the exclusive upper bound; `None` where the evidence says the API ignores
    /// it (appointments ignore `updated_before`).
    pub before: Option<&'static str>,
    /// How sure we are that the API honours these parameters.
    pub grade: Grade,
}

impl RangeFilter {
    /// Both bounds honoured on `field`.
    pub const fn both(
        field: &'static str,
        after: &'static str,
        before: &'static str,
        grade: Grade,
    ) -> Self {
        Self {
            field,
            after,
            before: Some(before),
            grade,
        }
    }

    /// Only the lower bound honoured on `field`.
    pub const fn after_only(field: &'static str, after: &'static str, grade: Grade) -> Self {
        Self {
            field,
            after,
            before: None,
            grade,
        }
    }
}

/// Whether the endpoint returns a list or one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `{"<envelope>": [...], "meta": {...}}`, paged.
    List,
    /// `{"<envelope>": {...}}`: one row (`/v1/practice`).
    Single,
}

/// One Dentally resource: everything the tool needs to extract it and type its output.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// Name in pipelines and the output table name (`patients`).
    pub name: &'static str,
    /// Path under the base URL, with the version (`/v1/patients`).
    pub path: &'static str,
    /// JSON key of the record list or object (`patients`, `practice`).
    pub envelope: &'static str,
    /// List or single object.
    pub kind: Kind,
    /// Scope needed to read it (`patient:read`).
    pub scope: &'static str,
    /// Primary key field (`id`; `patient_id` for patient_stats).
    pub primary_key: &'static str,
    /// Field for `sort_by`, giving a stable order (`id`).
    pub sort_by: &'static str,
    /// Cursor for incremental runs (`updated_at`) when the list accepts `updated_after`.
    pub cursor: Option<&'static str>,
    /// Window rule.
    pub window: Window,
    /// Range filters the list is believed to honour (api-evidence.md §2), strongest first.
    /// Empty: none known, only a plain offset walk reads the list.
    pub ranges: &'static [RangeFilter],
    /// Whether `sort_by` is believed honoured (false where the evidence says the list has no
    /// sort control: `/v1/patients`, C). Even when true, the order is checked, not trusted.
    pub sortable: bool,
    /// Parameters every list request must carry to get every row (`cancelled=true` on
    /// appointments: without it the live API leaves out Cancelled and Did-not-attend rows).
    pub required_params: &'static [(&'static str, &'static str)],
    /// Rows missing from the bulk list can be fetched one by one ([`ByKey`]).
    pub by_key: Option<ByKey>,
    /// The rows that show a required parameter took effect ([`Witness`]).
    pub witness: Option<Witness>,
    /// The fields the catalog knows, in output column order.
    pub fields: &'static [Field],
    /// One line for `dentally-etl resources`.
    pub description: &'static str,
}

impl Field {
    /// A scalar field that is not personal data.
    pub const fn new(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            kind: FieldKind::Scalar(ty),
            pii: Pii::None,
            grade: Grade::B,
        }
    }

    /// A scalar field that identifies a person directly.
    pub const fn direct(name: &'static str, ty: FieldType) -> Self {
        Self {
            name,
            kind: FieldKind::Scalar(ty),
            pii: Pii::Direct,
            grade: Grade::B,
        }
    }

    /// A nested object with known keys (its own fields carry their PII tags).
    pub const fn object(name: &'static str, fields: &'static [Field]) -> Self {
        Self {
            name,
            kind: FieldKind::Object(fields),
            pii: Pii::None,
            grade: Grade::B,
        }
    }

    /// An array of objects, written to a child table.
    pub const fn children(name: &'static str, fields: &'static [Field]) -> Self {
        Self {
            name,
            kind: FieldKind::Children(fields),
            pii: Pii::None,
            grade: Grade::B,
        }
    }

    /// The same field with another evidence grade (`Field::new("specialisms", Json)
    /// .graded(Grade::D)`): where the evidence is weaker than B, or where the type is a guess.
    #[must_use]
    pub const fn graded(self, grade: Grade) -> Self {
        Self { grade, ..self }
    }

    /// The least sure grade of this field and, for an object or a child list, of every field
    /// below it.
    pub fn least_sure(&self) -> Grade {
        match self.kind {
            FieldKind::Scalar(_) => self.grade,
            FieldKind::Object(sub) | FieldKind::Children(sub) => sub
                .iter()
                .map(Field::least_sure)
                .fold(self.grade, Grade::max),
        }
    }
}

impl Resource {
    /// A plain paged list keyed by `id`, with no cursor and no window; refine it with the
    /// `with_*` methods. `path`, `envelope` and `scope` are spelled out (not derived) so the
    /// catalog reads as the API does; a unit test checks they follow the `/v1/<name>`,
    /// `<name>`, `<singular>:read` pattern.
    pub const fn list(
        name: &'static str,
        path: &'static str,
        scope: &'static str,
        fields: &'static [Field],
        description: &'static str,
    ) -> Self {
        Self {
            name,
            path,
            envelope: name,
            kind: Kind::List,
            scope,
            primary_key: "id",
            sort_by: "id",
            cursor: None,
            window: Window::None,
            ranges: &[],
            sortable: true,
            required_params: &[],
            by_key: None,
            witness: None,
            fields,
            description,
        }
    }

    /// The same resource with another primary key (also used for `sort_by`).
    #[must_use]
    pub const fn with_key(self, key: &'static str) -> Self {
        Self {
            primary_key: key,
            sort_by: key,
            ..self
        }
    }

    /// The same resource with an incremental cursor field.
    #[must_use]
    pub const fn with_cursor(self, cursor: &'static str) -> Self {
        Self {
            cursor: Some(cursor),
            ..self
        }
    }

    /// The same resource with the range filters it is believed to honour.
    #[must_use]
    pub const fn with_ranges(self, ranges: &'static [RangeFilter]) -> Self {
        Self { ranges, ..self }
    }

    /// The same resource whose list is believed to ignore `sort_by`.
    #[must_use]
    pub const fn without_sort(self) -> Self {
        Self {
            sortable: false,
            ..self
        }
    }

    /// The same resource with parameters every list request needs.
    #[must_use]
    pub const fn with_required_params(
        self,
        params: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            required_params: params,
            ..self
        }
    }

    /// The same resource with a required parameter's [`Witness`].
    #[must_use]
    pub const fn with_witness(self, witness: Witness) -> Self {
        Self {
            witness: Some(witness),
            ..self
        }
    }

    /// The same resource whose skipped rows can be fetched at `<parent path>/<key>/<suffix>`.
    #[must_use]
    pub const fn with_by_key(self, parent: &'static str, suffix: &'static str) -> Self {
        Self {
            by_key: Some(ByKey { parent, suffix }),
            ..self
        }
    }

    /// The resource whose keys this one is read by (a per-parent fan-out, or rows fetched one
    /// by one): the run reads it first and hands its keys over.
    pub fn keys_from(&self) -> Option<&'static str> {
        match (self.window, self.by_key) {
            (Window::PerParent { parent, .. }, _) => Some(parent),
            (_, Some(by_key)) => Some(by_key.parent),
            _ => None,
        }
    }

    /// The range filter on `field`, if the list is believed to honour one.
    pub fn range_on(&self, field: &str) -> Option<&'static RangeFilter> {
        self.ranges.iter().find(|r| r.field == field)
    }

    /// The same resource with a window rule.
    #[must_use]
    pub const fn with_window(self, window: Window) -> Self {
        Self { window, ..self }
    }

    /// The same resource as a single object (`/v1/practice`) under `envelope`.
    #[must_use]
    pub const fn single(self, envelope: &'static str) -> Self {
        Self {
            kind: Kind::Single,
            envelope,
            ..self
        }
    }

    /// The singular noun of the resource (`payment` for `payments`), taken from its scope.
    /// Child tables name their parent key column `<singular>_id` from it.
    pub fn singular(&self) -> &'static str {
        self.scope.strip_suffix(":read").unwrap_or(self.scope)
    }

    /// The catalog field with this JSON name, at the top level of the record.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The least sure evidence grade of any of the resource's fields (`resources` shows it).
    pub fn least_sure_grade(&self) -> Grade {
        self.fields
            .iter()
            .map(Field::least_sure)
            .fold(Grade::A, Grade::max)
    }
}

impl Window {
    /// The date-window rule for a list that is only usable between `after` and `before`,
    /// applied to `field`.
    pub const fn after_before(field: &'static str) -> Self {
        Self::Required {
            after_param: "after",
            before_param: "before",
            field,
        }
    }
}
