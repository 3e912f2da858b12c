"""Render the topology declaration as a production CloudFormation template (DESIGN §7).

``points infra apply`` (infra/apply.py) and this package render the same
:class:`~infra.topology.Topology`: queue names, redrive and filter policies and queue
policies come from infra/topology.py and nowhere else. On top of the messaging this adds
what only a real account needs: ECS on Fargate for the workers, backlog-per-task
autoscaling, a scheduled ``points ledger expire``, alarms and least-privilege IAM.

Names carry a ``${ResourcePrefix}`` stack parameter (default: the prefix rendered with),
so one template deploys several stacks per account, exactly like ``--prefix`` does for
``infra apply``. Everything is built on demand; nothing runs at import time.

One module per resource family: ``names`` (intrinsics, logical ids, IAM statement helpers),
``messaging`` (SNS/SQS), ``ecs`` (cluster, roles, task definitions, services, the schedule),
``autoscaling``, ``alarms``; ``template`` assembles them with parameters and outputs and
``serialise`` writes JSON or YAML.
"""

from infra.cloudformation.names import logical_id, queue_id
from infra.cloudformation.serialise import to_json, to_yaml
from infra.cloudformation.template import render_template

__all__ = ["logical_id", "queue_id", "render_template", "to_json", "to_yaml"]
