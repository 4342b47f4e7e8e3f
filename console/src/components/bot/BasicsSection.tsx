// The bot builder's basics: language, the prompt with its {{variable}} hints, the first message and the declared variables.
import { Badge, Group, Stack, TagsInput, Text, TextInput, Textarea } from '@mantine/core';
import { BUILTIN_VARIABLES, usedVariables } from '../../lib/spec';
import type { SectionProps } from './edit';

export function BasicsSection({ spec, change, errors, readOnly }: SectionProps) {
  const declared = new Set([...spec.variables, ...BUILTIN_VARIABLES]);
  const used = [...usedVariables(spec.system_prompt), ...usedVariables(spec.first_message)].filter((v, i, all) => all.indexOf(v) === i);
  return (
    <Stack gap="sm">
      <TextInput
        label="Language"
        description="BCP 47, e.g. en-US, en-GB, es-ES"
        value={spec.language}
        readOnly={readOnly}
        onChange={(e) => {
          const language = e.currentTarget.value;
          change((s) => ({ ...s, language }));
        }}
        error={errors['spec.language']}
      />
      <Textarea
        label="Prompt"
        description="What the bot does; {{variables}} come from each contact"
        value={spec.system_prompt}
        readOnly={readOnly}
        onChange={(e) => {
          const system_prompt = e.currentTarget.value;
          change((s) => ({ ...s, system_prompt }));
        }}
        error={errors['spec.system_prompt']}
        autosize
        minRows={5}
      />
      <TextInput
        label="First message"
        description="What the bot says when the call connects (empty: it waits for the caller)"
        value={spec.first_message ?? ''}
        readOnly={readOnly}
        onChange={(e) => {
          const text = e.currentTarget.value;
          change((s) => ({ ...s, first_message: text || null }));
        }}
        error={errors['spec.first_message']}
      />
      <TagsInput
        label="Variables"
        description="The contact columns the texts may use; press Enter after each"
        value={spec.variables}
        readOnly={readOnly}
        onChange={(variables) => change((s) => ({ ...s, variables }))}
        error={errors['spec.variables']}
      />
      <Group gap={6} data-testid="variable-hints">
        <Text size="sm" c="dimmed">
          Used:
        </Text>
        {used.length === 0 && (
          <Text size="sm" c="dimmed">
            none
          </Text>
        )}
        {used.map((v) => (
          <Badge key={v} tt="none" color={declared.has(v) ? 'green' : 'red'} variant="light" title={declared.has(v) ? 'declared' : 'not declared'}>
            {`{{${v}}}`}
          </Badge>
        ))}
        <Text size="sm" c="dimmed">
          Always there: {BUILTIN_VARIABLES.map((v) => `{{${v}}}`).join(' ')}
        </Text>
      </Group>
    </Stack>
  );
}
