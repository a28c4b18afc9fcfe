-- Published: what each model's developer disclosed (first-party figures only, restatements excluded),
-- per model and rolled up per organization.
with first_party as (
    select *
    from int_disclosures_sourced
    where not is_restatement
),

per_model as (
    select
        'model' as level,
        organization,
        model_id,
        any_value(model_name order by disclosure_id) as model_name,
        coalesce(bool_or(hardware is not null), false) as has_hardware,
        coalesce(bool_or(metric = 'chip_hours'), false) as has_chip_hours,
        coalesce(bool_or(metric = 'energy' and stage <> 'inference'), false) as has_energy,
        coalesce(bool_or(location is not null or metric = 'carbon_intensity'), false) as has_location_or_intensity,
        coalesce(bool_or(metric = 'pue'), false) as has_pue,
        coalesce(bool_or(metric = 'emissions' and coalesce(basis, '') <> 'market-based'), false) as has_emissions,
        coalesce(bool_or(metric = 'emissions' and basis = 'market-based'), false) as has_market_based_emissions,
        coalesce(bool_or(metric = 'emissions' and (component = 'embodied' or is_embodied_included)), false)
            as has_embodied_emissions,
        coalesce(bool_or(stage = 'inference'), false) as has_inference_figures,
        count(*) as figure_count,
        count(distinct source_id) as source_count,
        1 as model_count
    from first_party
    group by organization, model_id
),

per_organization as (
    select
        'organization' as level,
        organization,
        cast(null as varchar) as model_id,
        cast(null as varchar) as model_name,
        bool_or(has_hardware) as has_hardware,
        bool_or(has_chip_hours) as has_chip_hours,
        bool_or(has_energy) as has_energy,
        bool_or(has_location_or_intensity) as has_location_or_intensity,
        bool_or(has_pue) as has_pue,
        bool_or(has_emissions) as has_emissions,
        bool_or(has_market_based_emissions) as has_market_based_emissions,
        bool_or(has_embodied_emissions) as has_embodied_emissions,
        bool_or(has_inference_figures) as has_inference_figures,
        sum(figure_count) as figure_count,
        (select count(distinct source_id) from first_party as f where f.organization = m.organization)
            as source_count,
        count(*) as model_count
    from per_model as m
    group by organization
),

combined as (
    select * from per_model
    union all by name
    select * from per_organization
)

select
    case level when 'model' then 'model:' || model_id else 'organization:' || organization end as scorecard_id,
    level,
    organization,
    model_id,
    model_name,
    has_hardware,
    has_chip_hours,
    has_energy,
    has_location_or_intensity,
    has_pue,
    has_emissions,
    has_market_based_emissions,
    has_embodied_emissions,
    has_inference_figures,
    cast(has_hardware as int) + cast(has_chip_hours as int) + cast(has_energy as int)
        + cast(has_location_or_intensity as int) + cast(has_pue as int) + cast(has_emissions as int)
        + cast(has_market_based_emissions as int) + cast(has_embodied_emissions as int)
        + cast(has_inference_figures as int) as disclosed_item_count,
    cast(figure_count as bigint) as figure_count,
    cast(source_count as bigint) as source_count,
    cast(model_count as bigint) as model_count
from combined
order by scorecard_id
