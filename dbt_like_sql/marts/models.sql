-- Published: one row per model (the model registry, the Hub cards' models and Epoch AI's models that no
-- source reports on), with its headline figures: "how much did model X emit, says who, under which
-- boundary" is one select. training_* is the preferred pretraining run of the model, or of its base model
-- when the model has none of its own (training_model_id says whose); lifecycle, development, fine-tuning,
-- total, inference and water figures are the preferred published ones.
with registry as (
    select
        model_id, model_name, organization, family_id, base_model_id, is_aggregate,
        nullif(array_to_string(member_model_ids, ','), '') as member_model_ids, parameters, release_year,
        training_year,
        training_location, epoch_name, citation, registry_origin
    from model_registry
),

other_models as (
    -- models only a Hub card or Epoch AI's table knows: named as their source names them
    select
        r.model_id,
        any_value(r.model_name order by r.precedence) as model_name,
        any_value(r.organization order by r.precedence) as organization,
        null as family_id, null as base_model_id, false as is_aggregate, null as member_model_ids,
        null as parameters, max(r.year) as release_year, null::bigint as training_year, null as training_location,
        any_value(e.epoch_name) as epoch_name,
        any_value(r.source_url order by r.precedence) as citation,
        coalesce(any_value(e.registry_origin), 'hub card') as registry_origin
    from training_runs as r
    left join estimate_runs as e using (run_id)
    where r.model_id not in (select model_id from model_registry)
    group by r.model_id
),

all_models as (
    select * from registry
    union all by name
    select * from other_models
),

preferred as (
    select * from training_runs where precedence = 1
),

own_training as (
    select * from preferred where stage = 'pretraining'
),

inherited as (
    -- the pretraining a model without its own run stands on: its base model's, else that model's base's
    -- (a quantized copy of an instruct model of a base)
    select m.model_id, coalesce(b1.run_id, b2.run_id) as run_id
    from model_registry as m
    left join own_training as b1 on b1.model_id = m.base_model_id
    left join model_registry as mb on mb.model_id = m.base_model_id
    left join own_training as b2 on b2.model_id = mb.base_model_id
    where m.base_model_id is not null
),

published as (
    -- the best published run per model and stage (precedence among usable disclosed runs with emissions)
    select *
    from training_runs
    where emissions_origin = 'disclosed' and not is_excluded
    qualify row_number() over (partition by model_id, stage order by precedence) = 1
),

lifecycle as (
    select *
    from training_runs
    where emissions_origin = 'disclosed' and not is_excluded
      and (boundary in ('includes embodied hardware', 'includes use') or emissions_basis = 'lifecycle')
    qualify row_number() over (partition by model_id order by precedence, stage) = 1
),

inference as (
    -- energy per query, where the functional unit is one query (prompt, response) or 1,000 of them
    select
        model_id,
        value * 1000 / if(regexp_matches(lower(functional_unit), '^1,?000 '), 1000, 1) as wh_per_query,
        functional_unit,
        source_id
    from disclosures
    where stage = 'inference' and metric = 'energy' and unit = 'kWh' and not is_superseded
      and (regexp_matches(lower(functional_unit), '^1,?000 (inferences|queries|prompts|requests)')
           or regexp_matches(lower(functional_unit), '(query|prompt|response)$'))
    qualify row_number() over (partition by model_id order by is_restatement, functional_unit, disclosure_id) = 1
),

measured as (
    -- measured by a public benchmark (third-party): the model's headline row of inference_measurements
    select model_id, energy_wh_per_query, project, task, hardware, measurement_id
    from inference_measurements
    where is_headline
),

water as (
    select model_id, value as water_l, stage as water_stage, source_id
    from disclosures
    where metric = 'water' and unit = 'L' and functional_unit is null and not is_superseded
      and stage in ('pretraining', 'total')
    qualify row_number() over (partition by model_id order by stage = 'total', is_restatement, disclosure_id) = 1
),

counts as (
    select
        model_id,
        count(*) as n_runs,
        count(distinct source_id) filter (where emissions_origin is distinct from 'estimated') as n_sources,
        bool_or(has_conflict) as has_conflict
    from training_runs
    group by model_id
)

select
    m.model_id,
    m.model_name,
    m.organization,
    m.family_id,
    m.base_model_id,
    m.is_aggregate,
    m.member_model_ids,
    m.parameters,
    m.registry_origin,
    coalesce(t.emissions_tco2e, b.emissions_tco2e) as training_tco2e,
    coalesce(t.emissions_basis, b.emissions_basis) as training_basis,
    coalesce(t.boundary, b.boundary) as training_boundary,
    coalesce(t.disclosure_type, b.disclosure_type) as training_disclosure_type,
    coalesce(t.emissions_origin, b.emissions_origin) as training_origin,
    coalesce(t.source_id, b.source_id) as training_source_id,
    coalesce(t.source_url, b.source_url) as training_source_url,
    coalesce(t.run_id, b.run_id) as training_run_id,
    case when t.run_id is not null then m.model_id when b.run_id is not null then b.model_id end
        as training_model_id,
    if(coalesce(t.emissions_origin, b.emissions_origin) = 'estimated',
       coalesce(t.estimate_low_tco2e, b.estimate_low_tco2e), null) as training_low_tco2e,
    if(coalesce(t.emissions_origin, b.emissions_origin) = 'estimated',
       coalesce(t.estimate_high_tco2e, b.estimate_high_tco2e), null) as training_high_tco2e,
    coalesce(t.headline_reason, b.headline_reason) as training_headline_reason,
    l.emissions_tco2e as lifecycle_tco2e,
    l.boundary as lifecycle_boundary,
    l.source_id as lifecycle_source_id,
    d.emissions_tco2e as development_tco2e,
    f.emissions_tco2e as fine_tuning_tco2e,
    f.emissions_origin as fine_tuning_origin,
    tot.emissions_tco2e as total_tco2e,
    tot.boundary as total_boundary,
    i.wh_per_query as inference_wh_per_query,
    i.functional_unit as inference_functional_unit,
    i.source_id as inference_source_id,
    mi.energy_wh_per_query as measured_inference_wh_per_query,
    mi.project as measured_inference_project,
    mi.task as measured_inference_task,
    mi.hardware as measured_inference_hardware,
    mi.measurement_id as measured_inference_measurement_id,
    w.water_l,
    w.water_stage,
    m.epoch_name,
    coalesce(m.training_year, t.training_year, b.training_year, m.release_year) as training_year,
    m.release_year,
    m.training_location,
    coalesce(c.n_runs, 0) as n_runs,
    coalesce(c.n_sources, 0) as n_sources,
    coalesce(c.has_conflict, false) as has_conflict,
    m.citation
from all_models as m
left join own_training as t using (model_id)
left join inherited as h using (model_id)
left join own_training as b on t.run_id is null and b.run_id = h.run_id
left join lifecycle as l using (model_id)
left join published as d on d.model_id = m.model_id and d.stage = 'development'
left join preferred as f on f.model_id = m.model_id and f.stage = 'fine-tuning'
left join published as tot on tot.model_id = m.model_id and tot.stage = 'total'
left join inference as i using (model_id)
left join measured as mi using (model_id)
left join water as w using (model_id)
left join counts as c using (model_id)
order by m.model_id
