-- training_runs holds exactly one headline row per model and stage.
select model_id, stage, count(*) as n
from training_runs
group by model_id, stage
having count(*) > 1
