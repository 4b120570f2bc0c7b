"""The admin console at /console/: knowledge bases, uploads, access, reports and the
audit log, for admins and editors. Views call citewise services; who may see what is
decided by citewise.knowledge.permissions only (access.py asks it)."""
