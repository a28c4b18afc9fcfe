-- Published: one row per model and stage. Disclosed figures are kept as disclosed; where a run has no
-- disclosed emissions, the estimate fills emissions_tco2e and emissions_origin says 'estimated'.
-- Runs of Epoch AI notable models that no source discloses are estimated from Epoch's inputs.
-- A default (PUE, grid intensity) is shown only where an estimate used it; its *_origin column says so.
with runs as (
    select
        run_id, model_id, model_name, organization, stage, year, hardware, chip_count, chip_hours, energy_kwh,
        location, pue, carbon_intensity_kg_per_kwh, emissions_tco2e, emissions_basis, market_based_emissions_tco2e,
        embodied_tco2e, is_restatement, source_id, source_url
    from int_runs_headline
    union all by name
    select *, false as is_restatement
    from epoch_runs
)

select
    r.run_id,
    r.model_id,
    r.model_name,
    r.organization,
    r.stage,
    r.year,
    r.hardware,
    e.hardware_id,
    r.chip_count,
    coalesce(r.chip_hours, e.chip_hours_used) as chip_hours,
    e.chip_hours_origin,
    coalesce(r.energy_kwh, e.energy_kwh_used) as energy_kwh,
    e.energy_origin,
    r.location,
    e.location_id,
    coalesce(r.pue, if(e.estimated_tco2e is null, null, e.pue_used)) as pue,
    case when r.pue is not null then 'disclosed' when e.estimated_tco2e is not null then e.pue_origin end
        as pue_origin,
    coalesce(r.carbon_intensity_kg_per_kwh, if(e.estimated_tco2e is null, null, e.carbon_intensity_used_kg_per_kwh))
        as carbon_intensity_kg_per_kwh,
    case
        when r.carbon_intensity_kg_per_kwh is not null then 'disclosed'
        when e.estimated_tco2e is not null then e.carbon_intensity_origin
    end as carbon_intensity_origin,
    coalesce(r.emissions_tco2e, e.estimated_tco2e) as emissions_tco2e,
    case
        when r.emissions_tco2e is not null then r.emissions_basis
        when e.estimated_tco2e is not null then 'location-based'
    end as emissions_basis,
    case
        when r.emissions_tco2e is not null then 'disclosed'
        when e.estimated_tco2e is not null then 'estimated'
    end as emissions_origin,
    r.market_based_emissions_tco2e,
    e.estimated_tco2e,
    e.estimate_low_tco2e,
    e.estimate_high_tco2e,
    e.lifecycle_tco2e,
    e.lifecycle_low_tco2e,
    e.lifecycle_high_tco2e,
    coalesce(r.embodied_tco2e, e.embodied_estimated_tco2e) as embodied_tco2e,
    case when r.embodied_tco2e is not null then 'disclosed' else e.embodied_origin end as embodied_origin,
    e.estimate_method,
    e.estimate_message,
    r.is_restatement,
    r.source_id,
    r.source_url
from runs as r
left join run_estimates as e using (run_id)
order by r.run_id
