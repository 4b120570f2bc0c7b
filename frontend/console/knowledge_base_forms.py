"""The console's forms for knowledge bases: settings, few-shot examples, access, a tried
question. They parse and check what a person typed (messages in English and Korean);
the services in citewise.knowledge.administration act on it."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from citewise.knowledge.administration import Example, embedding_models
from citewise.knowledge.choices import AnswerBackend
from citewise.knowledge.models import KnowledgeBase, LanguageHint
from citewise.knowledge.services import default_embedding_model

LANGUAGES = [(LanguageHint.AUTO, _("Detect from the documents")),
             (LanguageHint.ENGLISH, _("English")), (LanguageHint.KOREAN, _("Korean"))]
# Names a person types: separated by commas, spaces or new lines.
NAME_SEPARATORS = re.compile(r"[\s,]+")


def _server_backend() -> str:
    return str(AnswerBackend(settings.ANSWER_BACKEND).label)


class SettingsForm(forms.Form):
    """Create (with the slug) or change (without) a knowledge base's settings. Built with
    only the fields this person may change now (`fields`), so a field left out can be
    neither shown nor posted."""

    name = forms.CharField(label=_("Name"), max_length=200)
    slug = forms.SlugField(
        label=_("Short name"), max_length=100, allow_unicode=True,
        help_text=_("Letters, digits and hyphens, e.g. hr-policies. Used in addresses and "
                    "by the API; it cannot change later."))
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    language = forms.ChoiceField(
        label=_("Language of the documents"), choices=LANGUAGES,
        help_text=_("It chooses the embedding model. Detect: the first documents decide."))
    embedding_model = forms.ChoiceField(label=_("Embedding model"), required=False)
    answer_backend = forms.ChoiceField(label=_("Answers written by"), required=False)
    instructions = forms.CharField(
        label=_("Instructions for answers"), required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Tone, format or persona, e.g. “Answer in short bullet points.” The LLM "
                    "follows them; extractive answers quote the documents as they are."))

    def __init__(self, *args: Any, fields: frozenset[str], kb: KnowledgeBase | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kb = kb
        for name in list(self.fields):
            if name not in fields:
                del self.fields[name]
        if "embedding_model" in self.fields:
            field = self.fields["embedding_model"]
            field.choices = [("", _("The language's default")),
                             *((model, model) for model in embedding_models(kb))]
            field.help_text = _(
                "Default: %(english)s for English, %(korean)s (multilingual) otherwise. Fixed "
                "once the knowledge base has documents: changing it means embedding every "
                "passage again.") % {"english": settings.EMBEDDING_MODEL,
                                     "korean": settings.EMBEDDING_MODEL_KOREAN}
        if "answer_backend" in self.fields:
            self.fields["answer_backend"].choices = [
                ("", _("The server's setting (%(backend)s)") % {"backend": _server_backend()}),
                *AnswerBackend.choices]

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if KnowledgeBase.objects.filter(slug=slug).exists():
            raise forms.ValidationError(
                _("Another knowledge base has this short name. Choose another."),
                code="slug_taken")
        return slug

    def clean_answer_backend(self) -> str:
        backend = self.cleaned_data["answer_backend"]
        if backend == AnswerBackend.VLLM and not settings.VLLM_BASE_URL:
            raise forms.ValidationError(
                _("No LLM is configured on this server (VLLM_BASE_URL). Choose extractive "
                  "answers, or ask the operator to set one up."), code="no_llm")
        return backend


def settings_initial(kb: KnowledgeBase) -> dict[str, Any]:
    """The form's values for an existing knowledge base; its model shows as "the
    language's default" when it is that."""
    default = kb.embedding_model == default_embedding_model(kb.language)
    return {"name": kb.name, "description": kb.description, "language": kb.language,
            "embedding_model": "" if default else kb.embedding_model,
            "answer_backend": kb.answer_backend, "instructions": kb.instructions}


class ExampleForm(forms.Form):
    question = forms.CharField(label=_("Question"), widget=forms.Textarea(attrs={"rows": 2}))
    source = forms.CharField(
        label=_("Passage it cites (optional)"), required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("A passage the example answer cites as [1]."))
    answer = forms.CharField(
        label=_("Answer as it should be written"), widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Cite the passage as [1]."))


# ORDER and DELETE: Django's own fields (labels "Order" and "Delete", translated by Django).
ExampleFormSet = forms.formset_factory(ExampleForm, extra=1, can_order=True, can_delete=True,
                                       max_num=20, validate_max=True)


def examples_initial(kb: KnowledgeBase) -> list[dict[str, str]]:
    return [{"question": e.question, "source": e.source, "answer": e.answer}
            for e in kb.answer_examples.order_by("position", "pk")]


def examples_of(formset: forms.BaseFormSet) -> list[Example]:
    """The examples kept, in the order asked for (ORDER, then their place on the page)."""
    return [Example(question=form.cleaned_data["question"], answer=form.cleaned_data["answer"],
                    source=form.cleaned_data.get("source", ""))
            for form in formset.ordered_forms]


class UserNamesField(forms.CharField):
    """User names separated by commas, spaces or new lines -> the users (all must exist)."""

    widget = forms.Textarea(attrs={"rows": 2})

    def clean(self, value: str) -> list:
        names = sorted(set(filter(None, NAME_SEPARATORS.split(super().clean(value) or ""))))
        users = get_user_model()
        field = users.USERNAME_FIELD
        found = list(users.objects.filter(**{f"{field}__in": names}))
        unknown = sorted(set(names) - {getattr(user, field) for user in found})
        if unknown:
            raise forms.ValidationError(
                _("No user is called %(names)s."), code="unknown_user",
                params={"names": ", ".join(unknown)})
        return found


def _groups(label: str) -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        label=label, queryset=Group.objects.order_by("name"), required=False,
        widget=forms.CheckboxSelectMultiple)


class AccessForm(forms.Form):
    readable_by_all = forms.BooleanField(
        label=_("Everyone who can sign in may read it"), required=False)
    readers = UserNamesField(
        label=_("Readers"), required=False,
        help_text=_("User names, separated by commas or spaces."))
    reader_groups = _groups(_("Reader groups"))
    editors = UserNamesField(
        label=_("Editors"), required=False,
        help_text=_("Editors also upload and delete documents, re-index, and change the "
                    "instructions and examples. User names, separated by commas or spaces."))
    editor_groups = _groups(_("Editor groups"))


def access_initial(access: dict[str, Any]) -> dict[str, Any]:
    """The form's values from services.access_of()."""
    groups = Group.objects.order_by("name")
    return {"readable_by_all": access["readable_by_all"],
            "readers": ", ".join(access["reader_users"]),
            "editors": ", ".join(access["editor_users"]),
            "reader_groups": groups.filter(name__in=access["reader_groups"]),
            "editor_groups": groups.filter(name__in=access["editor_groups"])}


class TryForm(forms.Form):
    question = forms.CharField(label=_("Question"), max_length=2000,
                               widget=forms.Textarea(attrs={"rows": 2}))
