// Bot specs in the console: the providers the Backend accepts, a blank spec, the {{variables}} a text uses, and the checks made before a spec is sent (the Backend checks again and names the field).
import type { components } from '../api/client';

export type BotSpec = components['schemas']['BotSpec'];
export type ToolSpec = components['schemas']['ToolSpec'];
export type FlowStep = components['schemas']['FlowStep'];
export type Flow = components['schemas']['Flow'];
/// One slot's provider settings (the slots' vendor lists differ; the shape is the same).
export type ProviderSettings = { provider: string; model?: string | null; voice?: string | null; options?: Record<string, unknown>; fallback?: ProviderSettings | null };

// The same lists as contracts::runtime_config (STT_PROVIDERS, LLM_PROVIDERS, TTS_PROVIDERS).
export const STT_PROVIDERS = ['whisper', 'deepgram', 'openai'];
export const LLM_PROVIDERS = ['openai', 'anthropic', 'groq', 'vllm', 'llamacpp', 'ollama', 'llama'];
export const TTS_PROVIDERS = ['espeak', 'piper', 'elevenlabs', 'cartesia', 'openai'];
/// Each slot's providers and whether this deployment runs them (`GET /api/v1/providers`).
export type ProviderOffers = components['schemas']['ProviderOffers'];
export type ProviderOffer = ProviderOffers['tts'][number];
export type ProviderChoice = { value: string; label: string; disabled?: boolean };

/// A slot's choices in the bot builder: the providers this deployment can run, in `all`'s order.
/// One it cannot run (a Piper voice the workers lack) is not offered; a saved bot's current
/// choice stays visible, disabled and marked. Before the offers load (or if they fail), every
/// provider is offered and the Backend's check at save names the field.
export function providerChoices(all: string[], offers: ProviderOffer[] | null | undefined, current: string | null | undefined): ProviderChoice[] {
  return all.flatMap((name): ProviderChoice[] => {
    const offer = offers?.find((o) => o.provider === name);
    if (!offer || offer.available) return [{ value: name, label: name }];
    if (name === current) return [{ value: name, label: `${name} (not on this deployment)`, disabled: true }];
    return [];
  });
}

/// What the current provider needs that this deployment lacks, if anything.
export function providerNeeds(offers: ProviderOffer[] | null | undefined, current: string | null | undefined): string | null {
  const offer = offers?.find((o) => o.provider === current);
  return offer && !offer.available ? `${offer.provider} needs ${offer.needs ?? 'what this deployment does not run'}` : null;
}

/// Where `vox-whisper serve` listens unless told otherwise.
export const WHISPER_DEFAULT_URL = 'http://127.0.0.1:8178/v1';
/// Variables every call has without a contact column.
export const BUILTIN_VARIABLES = ['phone', 'call_id', 'campaign_id', 'contact_id'];

// The same defaults as contracts::runtime_config (TurnSettings, InterruptionSettings, IdleSettings).
export const DEFAULT_TURN: BotSpec['turn'] = { vad: 'webrtc', mode: 'vad', threshold: 0.5, incomplete_wait_secs: 3, preemptive: true, speak_drafts: false };
export const DEFAULT_INTERRUPTIONS: BotSpec['interruptions'] = { min_duration_secs: 0.5, min_words: 1, backchannels: [], resume_after_secs: 1.5 };
export const DEFAULT_IVR: BotSpec['ivr'] = { enabled: false, menu_quiet_secs: 2 };
export const DEFAULT_IDLE: BotSpec['idle'] = { after_secs: 0, prompts: ['Are you still there?'], max_prompts: 2, goodbye: "I'll let you go now. Goodbye.", generate: false };

export function blankSpec(): BotSpec {
  return {
    language: 'en-US',
    system_prompt: '',
    first_message: null,
    // The vox-whisper sidecar at its default address (`vox-whisper serve`).
    stt: { provider: 'whisper', options: { base_url: WHISPER_DEFAULT_URL } },
    llm: { provider: 'openai', options: {} },
    tts: { provider: 'espeak', options: {} },
    tools: [],
    analysis: [],
    qc_rules: [],
    limits: { max_duration_secs: 600, silence_timeout_secs: 20 },
    voicemail: { action: 'hangup' },
    flow: null,
    turn: DEFAULT_TURN,
    idle: DEFAULT_IDLE,
    interruptions: DEFAULT_INTERRUPTIONS,
    ivr: DEFAULT_IVR,
    variables: [],
  } as BotSpec;
}

/// The `{{name}}` placeholders of a text, in order, each once.
export function usedVariables(text: string | null | undefined): string[] {
  const found: string[] = [];
  for (const match of (text ?? '').matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)) {
    if (!found.includes(match[1])) found.push(match[1]);
  }
  return found;
}

/// Placeholders of the prompt and first message that are neither declared nor built in.
export function undeclared(spec: BotSpec): string[] {
  const known = new Set([...spec.variables, ...BUILTIN_VARIABLES]);
  return [...usedVariables(spec.system_prompt), ...usedVariables(spec.first_message)].filter((name, i, all) => !known.has(name) && all.indexOf(name) === i);
}

/// Where each step of a flow may go next.
export function targets(step: FlowStep): string[] {
  switch (step.type) {
    case 'say':
    case 'set_field':
    case 'send_digits':
      return [step.next];
    case 'ask':
      return [...step.branches.map((b) => b.next), step.otherwise];
    case 'end':
    case 'transfer':
      return [];
  }
}

/// The problems a spec has that the console can see before sending it, by the Backend's field names.
export function checkSpec(name: string, spec: BotSpec): Record<string, string> {
  const errors: Record<string, string> = {};
  if (!name.trim()) errors.name = 'Give the bot a name.';
  if (!spec.system_prompt.trim() && !spec.flow) errors['spec.system_prompt'] = 'Say what the bot does.';
  const unknown = undeclared(spec);
  if (unknown.length > 0) {
    const field = usedVariables(spec.system_prompt).includes(unknown[0]) ? 'spec.system_prompt' : 'spec.first_message';
    errors[field] = `{{${unknown[0]}}} is not a declared variable; add it under Variables.`;
  }
  const { max_duration_secs: max, silence_timeout_secs: silence } = spec.limits;
  if (!(max >= 10 && max <= 4 * 3600)) errors['spec.limits.max_duration_secs'] = 'Between 10 seconds and 4 hours.';
  if (!(silence >= 1 && silence <= 600)) errors['spec.limits.silence_timeout_secs'] = 'Between 1 and 600 seconds.';
  if (spec.voicemail.action === 'leave_message' && !spec.voicemail.message.trim()) {
    errors['spec.voicemail.message'] = 'Say what the bot leaves on a voicemail.';
  }
  const names = new Set<string>();
  spec.tools.forEach((tool, i) => {
    const field = `spec.tools[${i}]`;
    if (tool.type === 'webhook') {
      if (!/^[A-Za-z0-9_]+$/.test(tool.name)) errors[`${field}.name`] = "Use letters, digits and '_'.";
      else if (names.has(tool.name)) errors[`${field}.name`] = `${tool.name} is used twice.`;
      names.add(tool.name);
      if (!/^https?:\/\/.+/.test(tool.url)) errors[`${field}.url`] = 'Must be an http(s) URL.';
      const p = tool.parameters as { type?: unknown } | null;
      if (!p || typeof p !== 'object' || Array.isArray(p) || p.type !== 'object') {
        errors[`${field}.parameters`] = 'A JSON Schema object: {"type": "object", "properties": {…}}.';
      }
    }
    if (tool.type === 'transfer' && !tool.destination.trim()) errors[`${field}.destination`] = 'A number or SIP URI.';
    if (tool.type === 'set_disposition' && tool.allowed.length === 0) errors[`${field}.allowed`] = 'List at least one disposition.';
    if (tool.type === 'search_knowledge') {
      if (tool.knowledge_base_ids.length === 0) errors[`${field}.knowledge_base_ids`] = 'Pick at least one knowledge base.';
      if (!(tool.top_k >= 1 && tool.top_k <= 10)) errors[`${field}.top_k`] = 'Between 1 and 10.';
      if (!(tool.timeout_ms >= 100 && tool.timeout_ms <= 10000)) errors[`${field}.timeout_ms`] = 'Between 100 and 10000 ms.';
    }
  });
  spec.analysis.forEach((a, i) => {
    if (!a.name.trim()) errors[`spec.analysis[${i}].name`] = 'Name the field.';
    if (a.type === 'enum' && (a.options ?? []).length === 0) errors[`spec.analysis[${i}].options`] = 'An enum needs options.';
  });
  spec.qc_rules.forEach((r, i) => {
    if (!r.name.trim()) errors[`spec.qc_rules[${i}].name`] = 'Name the rule.';
  });
  if (spec.flow) {
    const steps = spec.flow.steps;
    if (!(spec.flow.start in steps)) errors['spec.flow.start'] = `No step is named "${spec.flow.start}".`;
    for (const [stepName, step] of Object.entries(steps)) {
      const missing = targets(step).find((t) => !(t in steps));
      if (missing !== undefined) errors[`spec.flow.steps.${stepName}`] = `Goes to "${missing}", which is not a step.`;
    }
  }
  return errors;
}
