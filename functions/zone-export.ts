// Placeholder entry: replaced by the real wiring in this same change set.
export const handler = async (): Promise<never> => {
  throw new Error('functions/zone-export.ts is not wired yet');
};
