-- Published: one row per model and stage, the headline run chosen by a documented precedence:
-- first-party before restatement, current before superseded, a run with emissions before one without,
-- the most recent source, then source id (for determinism).
with ranked as (
    select
        *,
        row_number() over (
            partition by model_id, stage
            order by
                is_restatement,
                is_superseded,
                emissions_tco2e is null,
                source_published_date desc nulls last,
                source_id
        ) as precedence
    from int_runs_candidates
)

select
    model_id || '@' || stage as run_id,
    model_id,
    model_name,
    organization,
    stage,
    year,
    hardware,
    chip_count,
    chip_hours,
    energy_kwh,
    location,
    pue,
    carbon_intensity_kg_per_kwh,
    emissions_tco2e,
    emissions_basis,
    case when emissions_tco2e is not null then 'disclosed' end as emissions_origin,
    market_based_emissions_tco2e,
    cast(null as double) as estimate_low_tco2e,
    cast(null as double) as estimate_high_tco2e,
    embodied_tco2e,
    is_restatement,
    source_id,
    source_url
from ranked
where precedence = 1
order by run_id
