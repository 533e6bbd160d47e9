"""Running student code in a worker process that cannot read what the grader hides.

Trusted side: ``handle`` (``Worker`` / ``Remote``: what the checks call), ``policy``
(``WorkerConfig``, the limits, what a task blocks), ``isolation`` (the levels, what each
hides, uid leases, the instructor's notes), ``kernel_cache`` (dlkit's compiled kernels for
the workers).  Inside the worker: ``worker`` (set-up, then the request loop), ``mounts``
(namespace mounts), ``confine`` (Landlock, seccomp, no_new_privs), ``blocking`` (what a task
forbids to import).
"""
