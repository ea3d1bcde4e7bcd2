// A value as an error message quotes it: JSON, cut to a readable length, and safe for values nested too deeply to
// print (JSON.stringify recurses and would overflow the stack).
const LIMIT = 80;

export function showValue(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return '(a value nested too deeply to show)';
  }
  if (text === undefined) return String(value);
  return text.length > LIMIT ? `${text.slice(0, LIMIT)}... (${text.length} characters)` : text;
}
