"""Named chat templates and plain prompt styles, rendered to text (tokenisation is the tokenizer's job).

A chat template renders each message as `turn.format(role=..., content=...)`, inserts a system turn first when
the messages have none (`system` argument, else the template's default), and with `add_generation_prompt`
appends the cue that opens the assistant's reply. `prompt_template(name)` gives the one-question form a model
card's `prompt.template` uses (`{question}` marks the question); for chat templates it equals
`render(name, [{"role": "user", "content": "{question}"}])`, so a card's template can be checked against it.

Templates:
    helix-v2           Helix v2 / Auralis (`src/auralis/tokenizer/chat_template.py`; spec §2.3):
                       "<|role|>\\n{content}\\n<|end|>\\n", generation cue "<|assistant|>\\n", default system
                       "Du bist Auralis, ein hilfsbereiter KI-Assistent auf Basis des Helix v2 Modells."
    helix-v2-probe     the same with SYSTEM_DE, the system text of the original probe/eval runners
    user-assistant     the Mamba-Titan / Mamba base format (spec: "User: {q}\nAssistant: <think>…"): turns
                       "User: {content}\n" and "Assistant: {content}\n", generation cue "Assistant: ", a system
                       text as a plain first line, no default system. The released models saw one turn; several
                       (few-shot examples as turns) extend that form.
Plain styles (no turns): `plain-qa-de` = "Frage: {question}\\nAntwort:" (the original's `plain_qa` probes),
`raw` = "{question}".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from titan_eval.errors import UsageError

HELIX_SYSTEM = "Du bist Auralis, ein hilfsbereiter KI-Assistent auf Basis des Helix v2 Modells."
HELIX_SYSTEM_DE = ("Du bist Auralis, ein hilfreicher deutscher KI-Assistent. Antworte korrekt, knapp und ehrlich. "
                   "Wenn etwas unsicher oder erfunden ist, sage das deutlich.")
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatTemplate:
    """How turns are written: `turn` has the fields {role} (the role, or its `role_names` spelling) and {content};
    `system_turn`, when set, writes the system turn instead."""

    turn: str
    generation_prompt: str
    default_system: str | None = None
    role_names: Mapping[str, str] = field(default_factory=dict)
    system_turn: str | None = None

    def render_turn(self, role: str, content: str) -> str:
        """One message as text."""
        form = self.system_turn if role == "system" and self.system_turn is not None else self.turn
        return form.format(role=self.role_names.get(role, role), content=content)


CHAT_TEMPLATES: dict[str, ChatTemplate] = {
    "helix-v2": ChatTemplate("<|{role}|>\n{content}\n<|end|>\n", "<|assistant|>\n", HELIX_SYSTEM),
    "helix-v2-probe": ChatTemplate("<|{role}|>\n{content}\n<|end|>\n", "<|assistant|>\n", HELIX_SYSTEM_DE),
    "user-assistant": ChatTemplate("{role}: {content}\n", "Assistant: ", None,
                                   {"user": "User", "assistant": "Assistant"}, "{content}\n"),
}
PLAIN_STYLES: dict[str, str] = {"plain-qa-de": "Frage: {question}\nAntwort:", "raw": "{question}"}


def get_template(name: str) -> ChatTemplate:
    """The chat template called `name`; `UsageError` listing the known ones otherwise."""
    if name not in CHAT_TEMPLATES:
        raise UsageError(f"unknown chat template {name!r}; known: {', '.join(sorted(CHAT_TEMPLATES))}")
    return CHAT_TEMPLATES[name]


def render(
    name: str, messages: Sequence[Mapping[str, str]], add_generation_prompt: bool = True, system: str | None = None,
    continue_final: bool = False,
) -> str:
    """Messages ({role, content}) → the template's text, with a system turn inserted when none is given. With
    `continue_final` the last message is left open after its content (the model continues it; no cue follows)."""
    template = get_template(name)
    turns = list(messages)
    if not turns or turns[0].get("role") != "system":
        text = system if system is not None else template.default_system
        if text is not None:
            turns.insert(0, {"role": "system", "content": text})
    out = []
    for message in turns:
        if message.get("role") not in ROLES:
            raise UsageError(f"chat message role must be one of {', '.join(ROLES)}, got {message.get('role')!r}")
        out.append(template.render_turn(message["role"], message["content"]))
    if continue_final and turns:
        marker = "\x00end\x00"
        last = turns[-1]
        out[-1] = template.render_turn(last["role"], last["content"] + marker).split(marker)[0]
        return "".join(out)
    if add_generation_prompt:
        out.append(template.generation_prompt)
    return "".join(out)


def chat_prompt(name: str, user: str, system: str | None = None) -> str:
    """One user question as the original runners build it: stripped, system turn, generation cue."""
    return render(name, [{"role": "user", "content": user.strip()}], add_generation_prompt=True, system=system)


def prompt_template(name: str) -> str:
    """A card-style `{question}` template for a chat template or plain style called `name`."""
    if name in PLAIN_STYLES:
        return PLAIN_STYLES[name]
    if name not in CHAT_TEMPLATES:
        known = ", ".join(sorted([*CHAT_TEMPLATES, *PLAIN_STYLES]))
        raise UsageError(f"unknown prompt template {name!r}; known: {known} (or text containing {{question}})")
    marker = "\x00question\x00"
    text = render(name, [{"role": "user", "content": marker}])
    return text.replace("{", "{{").replace("}", "}}").replace(marker, "{question}")
