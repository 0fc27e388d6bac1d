-- Every user with at least one event before $as_of (dormant users included), for scoring.
select user_id
from user_profile
where first_seen < $as_of::timestamp
order by user_id
