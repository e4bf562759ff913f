"""Settings of the steps that change the contact: attributes, tags, groups, opt-out and opt-in."""

from __future__ import annotations

from flows.schema import (
    AddTagNode,
    AddToGroupNode,
    OptInNode,
    OptOutNode,
    RemoveFromGroupNode,
    SetAttributeNode,
)
from ui.components.node_settings.context import SettingsContext
from ui.components.node_settings.fields import heading, reference_select, text_input

NO_GROUPS = "No groups yet: create one under Audience."
NO_CATEGORIES = "No marketing categories yet: an admin adds them under Settings."


def set_attribute_form(ctx: SettingsContext, node: SetAttributeNode) -> None:
    heading("Contact attribute", "Stored on the contact; later steps read it as {{contact.<attribute>}}.")
    text_input(
        ctx,
        "Attribute",
        node.attribute,
        lambda target, value: setattr(target, "attribute", value.strip()),
        problem_field="attribute",
        placeholder="favourite_colour",
    )
    text_input(
        ctx,
        "Value",
        node.value,
        lambda target, value: setattr(target, "value", value),
        problem_field="value",
        variables=True,
        placeholder="{{vars.answer}}",
    )


def add_tag_form(ctx: SettingsContext, node: AddTagNode) -> None:
    heading("Tag")
    text_input(ctx, "Tag", node.tag, lambda target, value: setattr(target, "tag", value), problem_field="tag")


def group_form(ctx: SettingsContext, node: AddToGroupNode | RemoveFromGroupNode) -> None:
    heading("Group")
    reference_select(
        ctx, "Group", ctx.groups, node.group_id, "group_id", none_label=None, missing_hint=NO_GROUPS
    )


def consent_form(ctx: SettingsContext, node: OptOutNode | OptInNode) -> None:
    if isinstance(node, OptOutNode):
        heading("Consent", "The contact opts out of marketing on the channel of this conversation.")
    else:
        heading(
            "Consent",
            "The contact opts back in to marketing on the channel of this conversation. It takes back only "
            "what the contact said themselves (a STOP), and only right after their reply, tap or keyword: "
            "reached from a campaign's or program's start, a wait or an HTTP answer, it changes nothing.",
        )
    reference_select(
        ctx,
        "Marketing category",
        ctx.categories,
        node.category_id,
        "category_id",
        none_label="All marketing",
        missing_hint=NO_CATEGORIES,
    )
