// The bot builder's post-call analysis fields and quality-control rules.
import { ActionIcon, Button, Card, Group, Select, Stack, TagsInput, Text, TextInput } from '@mantine/core';
import type { components } from '../../api/client';
import { replaced, without, type SectionProps } from './edit';

type AnalysisField = components['schemas']['AnalysisField'];
type QcRule = components['schemas']['QcRule'];

export function AnalysisSection({ spec, change, errors, readOnly }: SectionProps) {
  const setField = (i: number, f: AnalysisField) => change((s) => ({ ...s, analysis: replaced(s.analysis, i, f) }));
  const setRule = (i: number, r: QcRule) => change((s) => ({ ...s, qc_rules: replaced(s.qc_rules, i, r) }));
  const remove = (label: string, onClick: () => void) =>
    !readOnly && (
      <ActionIcon variant="subtle" color="red" aria-label={label} onClick={onClick}>
        ✕
      </ActionIcon>
    );
  return (
    <Stack gap="sm">
      <Text fw={600}>Analysis fields</Text>
      <Text size="sm" c="dimmed">
        Filled from each call's transcript after it ends and pushed to the CRM.
      </Text>
      {spec.analysis.map((f, i) => {
        const field = `spec.analysis[${i}]`;
        return (
          <Card withBorder key={i}>
            <Group align="flex-start" grow>
              <TextInput label="Field name" value={f.name} readOnly={readOnly} onChange={(e) => setField(i, { ...f, name: e.currentTarget.value })} error={errors[`${field}.name`] ?? errors[field]} />
              <Select
                label="Type"
                data={['string', 'number', 'boolean', 'enum']}
                value={f.type}
                readOnly={readOnly}
                allowDeselect={false}
                onChange={(type) => type && setField(i, { ...f, type: type as AnalysisField['type'] })}
              />
              <TextInput label="What it means" value={f.description} readOnly={readOnly} onChange={(e) => setField(i, { ...f, description: e.currentTarget.value })} />
              {remove(`Remove field ${i + 1}`, () => change((s) => ({ ...s, analysis: without(s.analysis, i) })))}
            </Group>
            {f.type === 'enum' && <TagsInput label="Options" value={f.options ?? []} readOnly={readOnly} onChange={(options) => setField(i, { ...f, options })} error={errors[`${field}.options`]} />}
          </Card>
        );
      })}
      {!readOnly && (
        <Button variant="light" w="fit-content" onClick={() => change((s) => ({ ...s, analysis: [...s.analysis, { name: '', description: '', type: 'string' }] }))}>
          Add an analysis field
        </Button>
      )}
      <Text fw={600} mt="md">
        Quality rules
      </Text>
      <Text size="sm" c="dimmed">
        Checked on every transcript; findings show on the call page.
      </Text>
      {spec.qc_rules.map((r, i) => (
        <Card withBorder key={i}>
          <Group align="flex-start" grow>
            <TextInput label="Rule name" value={r.name} readOnly={readOnly} onChange={(e) => setRule(i, { ...r, name: e.currentTarget.value })} error={errors[`spec.qc_rules[${i}].name`]} />
            <TextInput label="The bot must…" value={r.description} readOnly={readOnly} onChange={(e) => setRule(i, { ...r, description: e.currentTarget.value })} />
            <Select
              label="Severity"
              data={['info', 'warning', 'critical']}
              value={r.severity ?? 'warning'}
              readOnly={readOnly}
              allowDeselect={false}
              onChange={(severity) => severity && setRule(i, { ...r, severity: severity as QcRule['severity'] })}
            />
            {remove(`Remove rule ${i + 1}`, () => change((s) => ({ ...s, qc_rules: without(s.qc_rules, i) })))}
          </Group>
        </Card>
      ))}
      {!readOnly && (
        <Button variant="light" w="fit-content" onClick={() => change((s) => ({ ...s, qc_rules: [...s.qc_rules, { name: '', description: '', severity: 'warning' }] }))}>
          Add a quality rule
        </Button>
      )}
    </Stack>
  );
}
