import { Body, Container, Head, Html, Preview, Section, Tailwind, Text } from "@react-email/components";
import type { ReactNode } from "react";

// <Head> must sit inside <Tailwind> so responsive classes land in a <style> block (SPEC.md §4).
export function Layout({ preview, footer, children }: { preview: string; footer: string; children: ReactNode }) {
  return (
    <Html lang="en">
      <Tailwind>
        <Head />
        <Preview>{preview}</Preview>
        <Body className="m-0 bg-zinc-100 p-0 font-sans">
          <Container className="w-full max-w-[600px] bg-white">
            <Section className="p-8 text-base leading-6 text-zinc-900 max-sm:p-4">{children}</Section>
            <Section className="px-8 py-4 max-sm:px-4">
              <Text className="m-0 text-xs leading-[18px] text-zinc-500">{footer}</Text>
            </Section>
          </Container>
        </Body>
      </Tailwind>
    </Html>
  );
}

export const buttonClass = "inline-block rounded-md bg-indigo-600 px-6 py-3 font-bold text-white no-underline";
