import { Button, Heading, Text } from "@react-email/components";
import { buttonClass, Layout } from "./_components/Layout";

type Props = { name: string; product: string; resetUrl: string; expiresInMinutes: number };

export const subject = ({ product }: Props) => `Reset your ${product} password`;

export default function PasswordReset({ name, product, resetUrl, expiresInMinutes }: Props) {
  return (
    <Layout preview="Reset your password" footer={`${product} · account security`}>
      <Heading className="m-0 mb-4 text-2xl leading-8">Reset your password</Heading>
      <Text className="text-base">Hi {name},</Text>
      <Text className="text-base">
        We received a request to reset your {product} password. This link expires in {expiresInMinutes} minutes.
      </Text>
      <Button className={buttonClass} href={resetUrl}>
        Reset password
      </Button>
      <Text className="text-sm text-zinc-500">If you did not ask for this, you can ignore this email.</Text>
    </Layout>
  );
}
