// The bot builder's deterministic flow editor: named steps (say, ask with keyword or DTMF branches, set a field, press keys, end, transfer), where each goes next, and the start.
import { ActionIcon, Button, Card, Group, Select, Stack, Switch, TagsInput, Text, TextInput, Textarea } from '@mantine/core';
import { useState } from 'react';
import type { Flow, FlowStep } from '../../lib/spec';
import { replaced, without, type SectionProps } from './edit';

const STEP_TYPES = [
  { value: 'say', label: 'Say' },
  { value: 'ask', label: 'Ask and branch' },
  { value: 'set_field', label: 'Set a field' },
  { value: 'send_digits', label: 'Press keys' },
  { value: 'end', label: 'End the call' },
  { value: 'transfer', label: 'Transfer the call' },
];

function starter(): Flow {
  return {
    start: 'greet',
    steps: {
      greet: {
        type: 'ask',
        prompt: 'Hello! Can you confirm your appointment? Say yes or no, or press 1 or 2.',
        field: 'confirmed',
        branches: [
          { keywords: ['yes'], dtmf: '1', next: 'yes' },
          { keywords: ['no'], dtmf: '2', next: 'no' },
        ],
        otherwise: 'no',
      },
      yes: { type: 'end', text: 'Thank you, see you then. Goodbye.', disposition: 'confirmed' },
      no: { type: 'end', text: 'We will call you to find another time. Goodbye.', disposition: 'declined' },
    },
  };
}

function fresh(type: string, next: string): FlowStep {
  switch (type) {
    case 'say':
      return { type: 'say', text: '', next };
    case 'ask':
      return { type: 'ask', prompt: '', branches: [], otherwise: next };
    case 'set_field':
      return { type: 'set_field', field: '', value: '', next };
    case 'send_digits':
      return { type: 'send_digits', digits: '', next };
    case 'transfer':
      return { type: 'transfer', text: '', destination: '' };
    default:
      return { type: 'end', text: '' };
  }
}

/// A flow with step `from` renamed to `to`, and every reference to it.
function renamed(flow: Flow, from: string, to: string): Flow {
  const point = (n: string) => (n === from ? to : n);
  const steps: Record<string, FlowStep> = {};
  for (const [name, step] of Object.entries(flow.steps)) {
    let moved: FlowStep = step;
    if (step.type === 'say' || step.type === 'set_field' || step.type === 'send_digits') moved = { ...step, next: point(step.next) };
    if (step.type === 'ask') moved = { ...step, otherwise: point(step.otherwise), branches: step.branches.map((b) => ({ ...b, next: point(b.next) })) };
    steps[point(name)] = moved;
  }
  return { start: point(flow.start), steps };
}

function Step({
  name,
  step,
  names,
  flowChange,
  errors,
  readOnly,
}: {
  name: string;
  step: FlowStep;
  names: string[];
  flowChange: (f: (flow: Flow) => Flow) => void;
  errors: SectionProps['errors'];
  readOnly: boolean;
}) {
  const [draft, setDraft] = useState(name);
  const set = (next: FlowStep) => flowChange((f) => ({ ...f, steps: { ...f.steps, [name]: next } }));
  const goTo = (label: string, value: string, onChange: (v: string) => void) => (
    <Select label={label} data={names} value={value} readOnly={readOnly} allowDeselect={false} onChange={(v) => v && onChange(v)} />
  );
  const commitName = () => {
    const to = draft.trim();
    if (!to || to === name || names.includes(to)) return setDraft(name);
    flowChange((f) => renamed(f, name, to));
  };
  return (
    <Card withBorder data-testid={`step-${name}`}>
      <Stack gap="xs">
        <Group align="flex-end">
          <TextInput label="Step name" value={draft} readOnly={readOnly} onChange={(e) => setDraft(e.currentTarget.value)} onBlur={commitName} />
          <Select
            label="Does"
            data={STEP_TYPES}
            value={step.type}
            readOnly={readOnly}
            allowDeselect={false}
            onChange={(type) => type && type !== step.type && set(fresh(type, names.find((n) => n !== name) ?? name))}
          />
          {!readOnly && (
            <ActionIcon
              variant="subtle"
              color="red"
              aria-label={`Remove step ${name}`}
              onClick={() =>
                flowChange((f) => {
                  const steps = { ...f.steps };
                  delete steps[name];
                  return { ...f, steps };
                })
              }
            >
              ✕
            </ActionIcon>
          )}
        </Group>
        {errors[`spec.flow.steps.${name}`] && (
          <Text c="red" size="sm">
            {errors[`spec.flow.steps.${name}`]}
          </Text>
        )}
        {step.type === 'say' && (
          <>
            <Textarea label="Says" value={step.text} readOnly={readOnly} autosize onChange={(e) => set({ ...step, text: e.currentTarget.value })} />
            {goTo('Then', step.next, (next) => set({ ...step, next }))}
          </>
        )}
        {step.type === 'ask' && (
          <>
            <Textarea label="Asks" value={step.prompt} readOnly={readOnly} autosize onChange={(e) => set({ ...step, prompt: e.currentTarget.value })} />
            <TextInput label="Keep the answer in the analysis field" value={step.field ?? ''} readOnly={readOnly} onChange={(e) => set({ ...step, field: e.currentTarget.value || null })} />
            {step.branches.map((b, i) => (
              <Group key={i} align="flex-end" grow>
                <TagsInput
                  label={`When the caller says (branch ${i + 1})`}
                  value={b.keywords ?? []}
                  readOnly={readOnly}
                  onChange={(keywords) => set({ ...step, branches: replaced(step.branches, i, { ...b, keywords }) })}
                />
                <TextInput
                  label="or presses"
                  value={b.dtmf ?? ''}
                  readOnly={readOnly}
                  onChange={(e) => set({ ...step, branches: replaced(step.branches, i, { ...b, dtmf: e.currentTarget.value || null }) })}
                />
                {goTo('go to', b.next, (next) => set({ ...step, branches: replaced(step.branches, i, { ...b, next }) }))}
                {!readOnly && (
                  <ActionIcon variant="subtle" color="red" aria-label={`Remove branch ${i + 1}`} onClick={() => set({ ...step, branches: without(step.branches, i) })}>
                    ✕
                  </ActionIcon>
                )}
              </Group>
            ))}
            {!readOnly && (
              <Button variant="subtle" size="xs" w="fit-content" onClick={() => set({ ...step, branches: [...step.branches, { keywords: [], next: step.otherwise }] })}>
                Add a branch
              </Button>
            )}
            {goTo('Otherwise go to', step.otherwise, (otherwise) => set({ ...step, otherwise }))}
          </>
        )}
        {step.type === 'set_field' && (
          <Group grow align="flex-end">
            <TextInput label="Field" value={step.field} readOnly={readOnly} onChange={(e) => set({ ...step, field: e.currentTarget.value })} />
            <TextInput label="Value" value={String(step.value ?? '')} readOnly={readOnly} onChange={(e) => set({ ...step, value: e.currentTarget.value })} />
            {goTo('Then', step.next, (next) => set({ ...step, next }))}
          </Group>
        )}
        {step.type === 'send_digits' && (
          <Group grow align="flex-end">
            <TextInput
              label="Keys to press"
              description="0-9, * and #, in order"
              placeholder="1"
              value={step.digits}
              readOnly={readOnly}
              onChange={(e) => set({ ...step, digits: e.currentTarget.value })}
              error={errors[`spec.flow.steps.${name}.digits`]}
            />
            {goTo('Then', step.next, (next) => set({ ...step, next }))}
          </Group>
        )}
        {step.type === 'transfer' && (
          <Group grow align="flex-end">
            <TextInput label="Last words" value={step.text ?? ''} readOnly={readOnly} onChange={(e) => set({ ...step, text: e.currentTarget.value || null })} />
            <TextInput label="Transfer to (E.164)" placeholder="+14155550100" value={step.destination} readOnly={readOnly} onChange={(e) => set({ ...step, destination: e.currentTarget.value })} />
          </Group>
        )}
        {step.type === 'end' && (
          <Group grow align="flex-end">
            <TextInput label="Last words" value={step.text ?? ''} readOnly={readOnly} onChange={(e) => set({ ...step, text: e.currentTarget.value || null })} />
            <TextInput label="Disposition" value={step.disposition ?? ''} readOnly={readOnly} onChange={(e) => set({ ...step, disposition: e.currentTarget.value || null })} />
          </Group>
        )}
      </Stack>
    </Card>
  );
}

export function FlowEditor({ spec, change, errors, readOnly }: SectionProps) {
  const flow = spec.flow ?? null;
  const flowChange = (f: (flow: Flow) => Flow) => change((s) => (s.flow ? { ...s, flow: f(s.flow) } : s));
  const names = flow ? Object.keys(flow.steps) : [];
  return (
    <Stack gap="sm">
      <Switch
        label="Run as a deterministic flow (no language model: predictable, and costs nothing)"
        checked={flow !== null}
        disabled={readOnly}
        onChange={(e) => {
          const on = e.currentTarget.checked;
          change((s) => ({ ...s, flow: on ? starter() : null }));
        }}
      />
      {flow && (
        <>
          <Select
            label="Starts at"
            data={names}
            value={flow.start}
            readOnly={readOnly}
            allowDeselect={false}
            onChange={(start) => start && flowChange((f) => ({ ...f, start }))}
            error={errors['spec.flow.start']}
          />
          {Object.entries(flow.steps).map(([name, step]) => (
            <Step key={name} name={name} step={step} names={names} flowChange={flowChange} errors={errors} readOnly={readOnly} />
          ))}
          {!readOnly && (
            <Button
              variant="light"
              w="fit-content"
              onClick={() =>
                flowChange((f) => {
                  let n = Object.keys(f.steps).length + 1;
                  while (`step_${n}` in f.steps) n++;
                  return { ...f, steps: { ...f.steps, [`step_${n}`]: { type: 'end', text: '' } } };
                })
              }
            >
              Add a step
            </Button>
          )}
        </>
      )}
    </Stack>
  );
}
