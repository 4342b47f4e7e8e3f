// The bot builder's turn-taking: which detector hears the caller, what ends a turn (a quiet, or Smart Turn's verdict), what interrupts the bot, what a caller who goes quiet hears, and IVR mode for calls into automated menus.
import { NumberInput, SegmentedControl, SimpleGrid, Stack, Switch, Text, Textarea, TextInput } from '@mantine/core';
import { DEFAULT_IDLE, DEFAULT_INTERRUPTIONS, DEFAULT_IVR, DEFAULT_TURN, type BotSpec } from '../../lib/spec';
import type { SectionProps } from './edit';

type Turn = BotSpec['turn'];
type Idle = BotSpec['idle'];
type Interruptions = BotSpec['interruptions'];
type Ivr = BotSpec['ivr'];

export function TurnSection({ spec, change, errors, readOnly }: SectionProps) {
  const turn: Turn = { ...DEFAULT_TURN, ...spec.turn };
  const idle: Idle = { ...DEFAULT_IDLE, ...spec.idle };
  const setTurn = (patch: Partial<Turn>) => change((s) => ({ ...s, turn: { ...DEFAULT_TURN, ...s.turn, ...patch } }));
  const setIdle = (patch: Partial<Idle>) => change((s) => ({ ...s, idle: { ...DEFAULT_IDLE, ...s.idle, ...patch } }));
  const barge: Interruptions = { ...DEFAULT_INTERRUPTIONS, ...spec.interruptions };
  const setBarge = (patch: Partial<Interruptions>) => change((s) => ({ ...s, interruptions: { ...DEFAULT_INTERRUPTIONS, ...s.interruptions, ...patch } }));
  const ivr: Ivr = { ...DEFAULT_IVR, ...spec.ivr };
  const setIvr = (patch: Partial<Ivr>) => change((s) => ({ ...s, ivr: { ...DEFAULT_IVR, ...s.ivr, ...patch } }));
  const smart = turn.mode === 'smart';
  return (
    <Stack gap="sm">
      <Text fw={600} size="sm">
        Hearing the caller
      </Text>
      <SegmentedControl
        aria-label="Voice activity detector"
        data={[
          { value: 'webrtc', label: 'WebRTC VAD' },
          { value: 'silero', label: 'Silero VAD (neural)' },
        ]}
        value={turn.vad}
        readOnly={readOnly}
        onChange={(vad) => setTurn({ vad: vad as Turn['vad'] })}
      />
      <Text fw={600} size="sm">
        When the caller's turn is over
      </Text>
      <SegmentedControl
        aria-label="End of turn"
        data={[
          { value: 'vad', label: 'After a fixed quiet' },
          { value: 'smart', label: 'Smart Turn decides' },
        ]}
        value={turn.mode}
        readOnly={readOnly}
        onChange={(mode) => setTurn({ mode: mode as Turn['mode'], stop_secs: null })}
      />
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <NumberInput
          label="Quiet before a stop (seconds)"
          description={smart ? 'Smart Turn is asked then (default 0.2)' : 'The turn ends then (default 0.8)'}
          min={0.1}
          max={3}
          step={0.1}
          decimalScale={2}
          placeholder={smart ? '0.2' : '0.8'}
          value={turn.stop_secs ?? ''}
          readOnly={readOnly}
          onChange={(v) => setTurn({ stop_secs: v === '' ? null : Number(v) })}
          error={errors['spec.turn.stop_secs']}
        />
        {smart && (
          <NumberInput
            label="Complete above (probability)"
            min={0.05}
            max={0.95}
            step={0.05}
            decimalScale={2}
            value={turn.threshold}
            readOnly={readOnly}
            onChange={(v) => setTurn({ threshold: Number(v) })}
            error={errors['spec.turn.threshold']}
          />
        )}
        {smart && (
          <NumberInput
            label="Wait after an unfinished turn (seconds)"
            min={0}
            max={10}
            step={0.5}
            decimalScale={1}
            value={turn.incomplete_wait_secs}
            readOnly={readOnly}
            onChange={(v) => setTurn({ incomplete_wait_secs: Number(v) })}
            error={errors['spec.turn.incomplete_wait_secs']}
          />
        )}
      </SimpleGrid>
      <Switch
        label="Start the reply while the turn is judged"
        description="The model starts on the caller's words at once and the bot speaks when the turn is final; a caller who goes on costs a dropped request"
        checked={turn.preemptive}
        disabled={readOnly}
        onChange={(e) => setTurn({ preemptive: e.currentTarget.checked })}
      />
      {turn.preemptive && (
        <Switch
          label="Also start the voice on the early reply"
          description="Its first sentence is voiced while the turn is judged and played once it is final: the bot answers sooner, and a caller who goes on costs a voice request too"
          checked={turn.speak_drafts ?? false}
          disabled={readOnly}
          onChange={(e) => setTurn({ speak_drafts: e.currentTarget.checked })}
        />
      )}
      <Text fw={600} size="sm">
        A caller who speaks over the bot
      </Text>
      <Text size="xs" c="dimmed">
        The bot pauses at once; speech this long with this many words (backchannels such as “mhm” never count) interrupts it, anything else lets it go on where it paused.
      </Text>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <NumberInput
          label="Interrupts after (seconds of speech)"
          min={0}
          max={3}
          step={0.1}
          decimalScale={2}
          value={barge.min_duration_secs}
          readOnly={readOnly}
          onChange={(v) => setBarge({ min_duration_secs: Number(v) || 0 })}
          error={errors['spec.interruptions.min_duration_secs']}
        />
        <NumberInput
          label="Words needed to interrupt"
          min={0}
          max={10}
          value={barge.min_words}
          readOnly={readOnly}
          onChange={(v) => setBarge({ min_words: Number(v) || 0 })}
          error={errors['spec.interruptions.min_words']}
        />
        <NumberInput
          label="Go on after (seconds without words)"
          min={0.3}
          max={5}
          step={0.1}
          decimalScale={2}
          value={barge.resume_after_secs}
          readOnly={readOnly}
          onChange={(v) => setBarge({ resume_after_secs: Number(v) || 0 })}
          error={errors['spec.interruptions.resume_after_secs']}
        />
      </SimpleGrid>
      <TextInput
        label="More backchannels"
        description="Comma-separated words or phrases that never interrupt, besides the language's own list"
        value={barge.backchannels.join(', ')}
        readOnly={readOnly}
        onChange={(e) =>
          setBarge({
            backchannels: e.currentTarget.value
              .split(',')
              .map((w) => w.trimStart())
              .filter((w, i, all) => w !== '' || i === all.length - 1),
          })
        }
        error={errors['spec.interruptions.backchannels'] ?? Object.entries(errors).find(([k]) => k.startsWith('spec.interruptions.backchannels['))?.[1]}
      />
      <Text fw={600} size="sm">
        A caller who goes quiet
      </Text>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <NumberInput
          label="Prompt after (seconds of quiet)"
          description="0: never prompt"
          min={0}
          max={600}
          value={idle.after_secs}
          readOnly={readOnly}
          onChange={(v) => setIdle({ after_secs: Number(v) || 0 })}
          error={errors['spec.idle.after_secs']}
        />
        <NumberInput
          label="Prompts before hanging up"
          min={1}
          max={5}
          value={idle.max_prompts}
          readOnly={readOnly}
          onChange={(v) => setIdle({ max_prompts: Number(v) || 1 })}
          error={errors['spec.idle.max_prompts']}
        />
      </SimpleGrid>
      {idle.after_secs > 0 && (
        <>
          <Switch
            label="Let the model word each prompt"
            description="For the conversation so far; the lines below are said when it fails (and by flows)"
            checked={idle.generate}
            disabled={readOnly}
            onChange={(e) => setIdle({ generate: e.currentTarget.checked })}
          />
          <Textarea
            label="Prompts"
            description="One per line, said in turn; the last one repeats"
            value={idle.prompts.join('\n')}
            readOnly={readOnly}
            autosize
            onChange={(e) => setIdle({ prompts: e.currentTarget.value.split('\n') })}
            error={errors['spec.idle.prompts'] ?? Object.entries(errors).find(([k]) => k.startsWith('spec.idle.prompts['))?.[1]}
          />
          <TextInput label="Goodbye" value={idle.goodbye} readOnly={readOnly} onChange={(e) => setIdle({ goodbye: e.currentTarget.value })} error={errors['spec.idle.goodbye']} />
        </>
      )}
      <Text fw={600} size="sm">
        Calling into automated menus
      </Text>
      <Switch
        label="IVR mode"
        description="The menu talks first, so the bot says no first message; a turn ends only after the menu's quiet, so the pauses between its options do not end it; the model is told it is at a menu and gets the Press keys tool"
        checked={ivr.enabled}
        disabled={readOnly}
        onChange={(e) => setIvr({ enabled: e.currentTarget.checked })}
      />
      {ivr.enabled && (
        <NumberInput
          label="A menu is over after (seconds of quiet)"
          min={0.5}
          max={10}
          step={0.5}
          decimalScale={1}
          value={ivr.menu_quiet_secs}
          readOnly={readOnly}
          onChange={(v) => setIvr({ menu_quiet_secs: Number(v) })}
          error={errors['spec.ivr.menu_quiet_secs']}
        />
      )}
    </Stack>
  );
}
