"""Jobs on a cluster: a parameter sweep fanned out as the tasks of one Swarm job, followed
to its end. ``swarm`` is the only module that knows Swarm; the others (options, runner,
result, progress) would serve another backend as they are."""
