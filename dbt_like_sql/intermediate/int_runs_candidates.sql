-- One candidate run per run a source reports (model, stage, source and the run's name): the whole-run figures
-- pivoted into columns. The boundary says what the figures cover (the curated run's, else read from the
-- stage); one source can report a model under two boundaries (BLOOM's final-run dynamic power and its
-- life-cycle total), or the same run twice (a table and a summary).
-- Per-use figures (functional_unit) and footprint parts (idle, infrastructure, embodied) are not whole-run
-- figures; a dynamic-power-only figure is the final run's own consumption and counts as one.
with figures as (
    select
        f.*,
        coalesce(
            r.boundary,
            case f.stage
                when 'inference' then null
                when 'development' then 'includes development and experiments'
                else 'final run only'
            end
        ) as boundary,
        r.contains_stages,
        r.not_headline_reason
    from int_disclosures_sourced as f
    left join curated_runs as r using (source_id, model_id, stage, model_name)
),

whole_run as (
    select
        *,
        -- headline basis order: location-based, unspecified, operational, lifecycle (market-based has its column)
        case basis when 'location-based' then 1 when 'unspecified' then 2 when 'operational' then 3
            when 'lifecycle' then 4 end as basis_rank
    from figures
    where functional_unit is null and (component is null or component = 'dynamic')
),

components as (
    select
        model_id,
        stage,
        source_id,
        boundary,
        sum(value) filter (where component = 'embodied' and metric = 'emissions') as embodied_tco2e
    from figures
    where component in ('idle', 'infrastructure', 'embodied') and not is_superseded
    group by all
)

select
    w.model_id,
    w.stage,
    w.source_id,
    w.boundary,
    w.model_name,
    any_value(w.organization order by w.disclosure_id) as organization,
    max(w.year) as year,
    any_value(w.hardware order by w.disclosure_id) filter (where w.hardware is not null) as hardware,
    any_value(w.location order by w.disclosure_id) filter (where w.location is not null) as location,
    any_value(w.location_id order by w.disclosure_id) filter (where w.location_id is not null) as location_id,
    bool_or(w.is_restatement) as is_restatement,
    bool_and(w.is_superseded) as is_superseded,
    max(w.source_published_date) as source_published_date,
    any_value(w.source_organization) as source_organization,
    any_value(w.resolved_source_url) as source_url,
    flatten(list(distinct w.contains_stages) filter (where w.contains_stages is not null)) as contains_stages,
    any_value(w.not_headline_reason) filter (where w.not_headline_reason is not null) as not_headline_reason,
    max(w.value) filter (where w.metric = 'chip_count' and not w.is_superseded) as chip_count,
    max(w.value) filter (where w.metric = 'chip_hours' and not w.is_superseded) as chip_hours,
    max(w.value) filter (where w.metric = 'energy' and not w.is_superseded) as energy_kwh,
    max(w.value) filter (where w.metric = 'duration' and not w.is_superseded) as duration_hours,
    -- average draw per accelerator; a TDP rating only when no draw is given
    coalesce(
        max(w.value) filter (where w.metric = 'power' and not w.is_superseded),
        max(w.value) filter (where w.metric = 'tdp' and not w.is_superseded)
    ) as power_w,
    max(w.value) filter (where w.metric = 'pue' and not w.is_superseded) as pue,
    max(w.value) filter (where w.metric = 'carbon_intensity' and not w.is_superseded)
        as carbon_intensity_kg_per_kwh,
    arg_min(w.value, w.basis_rank) filter (where w.metric = 'emissions' and w.basis <> 'market-based'
                                           and not w.is_superseded) as emissions_tco2e,
    arg_min(w.basis, w.basis_rank) filter (where w.metric = 'emissions' and w.basis <> 'market-based'
                                           and not w.is_superseded) as emissions_basis,
    arg_min(w.value_resolution, w.basis_rank) filter (where w.metric = 'emissions' and w.basis <> 'market-based'
                                                      and not w.is_superseded) as emissions_resolution,
    max(w.value) filter (where w.metric = 'emissions' and w.basis = 'market-based' and not w.is_superseded)
        as market_based_emissions_tco2e,
    any_value(c.embodied_tco2e) as embodied_tco2e
from whole_run as w
left join components as c using (model_id, stage, source_id, boundary)
group by w.model_id, w.stage, w.source_id, w.model_name, w.boundary
