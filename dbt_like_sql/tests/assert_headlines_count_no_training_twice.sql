-- Summing headline runs never counts a training twice: an aggregate and one of its members are never both
-- headlines of a stage, and a headline covering several stages (a total) has no headline among those stages
-- for the same model, its members or its base model.
with headline as (
    select model_id, stage, run_id from training_runs where is_headline and emissions_tco2e is not null
),

related as (
    select model_id, unnest(member_model_ids) as related_id from model_registry where is_aggregate
    union
    select model_id, base_model_id from model_registry where base_model_id is not null
    union
    select model_id, model_id from headline
)

select a.run_id, b.run_id as also_counted
from headline as a
join model_registry as m on m.model_id = a.model_id and m.is_aggregate
join headline as b on b.stage = a.stage and list_contains(m.member_model_ids, b.model_id)
union all
select a.run_id, b.run_id
from headline as a
join related as r on r.model_id = a.model_id
join headline as b on b.model_id = r.related_id and b.stage in ('pretraining', 'fine-tuning', 'development')
where a.stage = 'total'
