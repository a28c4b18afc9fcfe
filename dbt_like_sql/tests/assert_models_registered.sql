-- Every model in the published tables is a row of `models`, and no Epoch AI model duplicates a registered
-- one (an Epoch row whose name a registered model carries must have been resolved to it).
with used as (
    select model_id, 'training_runs' as in_table from training_runs
    union
    select model_id, 'disclosures' from disclosures
)

select u.model_id, u.in_table, 'not in models' as problem
from used as u
anti join models as m using (model_id)
union all
select m.model_id, 'models', 'Epoch model duplicating ' || r.model_id
from models as m
join model_registry as r
    on regexp_replace(lower(m.epoch_name), '[^a-z0-9]', '', 'g')
       in (select regexp_replace(lower(x), '[^a-z0-9]', '', 'g')
           from (select unnest(list_append(r.aliases, coalesce(r.epoch_name, r.model_name))) as x))
where m.registry_origin = 'epoch'
