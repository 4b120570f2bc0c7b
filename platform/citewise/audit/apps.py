from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "citewise.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth import signals

        from citewise.audit import signals as receivers

        signals.user_logged_in.connect(receivers.signed_in, dispatch_uid="audit-sign-in")
        signals.user_login_failed.connect(receivers.sign_in_failed,
                                          dispatch_uid="audit-sign-in-failed")
        signals.user_logged_out.connect(receivers.signed_out, dispatch_uid="audit-sign-out")
        user_locked_out.connect(receivers.locked_out, dispatch_uid="audit-locked-out")
