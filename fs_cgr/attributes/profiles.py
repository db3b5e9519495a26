"""Attribute profiles: stored as the API's v2 form (Value a string), answered in CGrateS
v0.10's form (Value a list of ``{"Rules": ...}`` parsers)."""

from fs_cgr.attributes.values import parsers
from fs_cgr.errors import InvalidArgument, MandatoryMissing, require
from fs_cgr.money import to_decimal
from fs_cgr.profiles import id_list as _list
from fs_cgr.profiles import profile_head
from fs_cgr.profiles import weight as _weight


def normalize_profile(profile: dict, attributes_required: bool = True) -> dict:
    """A profile from APIerSv1 (parsers), APIerSv2 (strings) or the CSV loader, as stored.
    MandatoryMissing / InvalidArgument name what is wrong; nothing is stored then."""
    if attributes_required and isinstance(profile, dict):
        require(profile, ("Tenant", "ID", "Attributes"))  # every missing field named at once
    head = profile_head(profile)
    attributes = profile.get("Attributes")
    if not attributes or not isinstance(attributes, list):
        raise MandatoryMissing("Attributes")
    return {
        **head,
        "Contexts": _list(profile.get("Contexts")),
        "Attributes": [_attribute(attribute) for attribute in attributes],
        "Blocker": bool(profile.get("Blocker")),
        "Weight": _weight(profile.get("Weight")),
    }


def _attribute(attribute) -> dict:
    if not isinstance(attribute, dict):
        raise InvalidArgument("each attribute must be an object")
    value = attribute.get("Value")
    if isinstance(value, list):  # APIerSv1: RSR parsers
        if any(not isinstance(p, dict) or not p.get("Rules") for p in value):
            raise MandatoryMissing("Rules")
        value = ";".join(str(p["Rules"]) for p in value)
    if value in (None, ""):
        raise MandatoryMissing("Value")
    try:
        parsers(str(value))
    except ValueError as exc:
        raise InvalidArgument(f"attribute {attribute.get('Path')!r}: {exc}") from None
    return {
        "FilterIDs": _list(attribute.get("FilterIDs")),
        "Path": str(attribute.get("Path") or ""),
        "Type": str(attribute.get("Type") or ""),
        "Value": str(value),
    }


def profile_as_json(doc: dict) -> dict:
    """The AttributeProfile JSON CGrateS v0.10 answers with."""
    profile = dict(doc)
    profile["Attributes"] = [
        {
            **attribute,
            "Value": [
                {"Rules": p.rules, "AllFiltersMatch": True} for p in parsers(attribute["Value"])
            ],
        }
        for attribute in doc["Attributes"]
    ]
    profile["Weight"] = to_decimal(doc.get("Weight"))
    return profile
