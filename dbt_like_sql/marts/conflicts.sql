-- Published: every disagreement between two current figures for the same model, stage and metric.
-- Figures are compared when they measure the same thing: same functional unit and footprint component,
-- and comparable bases (market-based and lifecycle figures are compared only with their own basis).
-- Differences within the rounding of the printed values are not conflicts.
with figures as (
    select
        *,
        case when basis in ('market-based', 'lifecycle') then basis else 'direct' end as basis_group
    from int_disclosures_sourced
    where not is_superseded
),

pairs as (
    select
        a.model_id,
        a.model_name,
        a.stage,
        a.metric,
        a.unit,
        a.functional_unit,
        a.component,
        a.disclosure_id as disclosure_id_a,
        a.value as value_a,
        a.basis as basis_a,
        a.value_as_printed as value_as_printed_a,
        a.unit_as_printed as unit_as_printed_a,
        a.locator as locator_a,
        a.is_restatement as is_restatement_a,
        a.source_id as source_id_a,
        a.resolved_source_url as source_url_a,
        b.disclosure_id as disclosure_id_b,
        b.value as value_b,
        b.basis as basis_b,
        b.value_as_printed as value_as_printed_b,
        b.unit_as_printed as unit_as_printed_b,
        b.locator as locator_b,
        b.is_restatement as is_restatement_b,
        b.source_id as source_id_b,
        b.resolved_source_url as source_url_b
    from figures as a
    join figures as b
        on a.model_id = b.model_id
        and a.stage = b.stage
        and a.metric = b.metric
        and a.functional_unit is not distinct from b.functional_unit
        and a.component is not distinct from b.component
        and a.basis_group = b.basis_group
        -- each pair once: the first-party figure first, then by id
        and (a.is_restatement, a.disclosure_id) < (b.is_restatement, b.disclosure_id)
    where abs(a.value - b.value) > (coalesce(a.value_resolution, 0) + coalesce(b.value_resolution, 0)) / 2
        and abs(a.value - b.value) > 0.005 * greatest(a.value, b.value)
)

select
    'c_' || left(sha256(disclosure_id_a || '|' || disclosure_id_b), 16) as conflict_id,
    case
        when not is_restatement_a and is_restatement_b then 'first-party vs restatement'
        when not is_restatement_a then 'between first-party figures'
        else 'between restatements'
    end as conflict_kind,
    round(greatest(value_a, value_b) / nullif(least(value_a, value_b), 0), 4) as ratio,
    *
from pairs
order by conflict_id
