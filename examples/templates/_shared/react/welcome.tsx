import { Button, Heading, Text } from "@react-email/components";
import { buttonClass, Layout } from "./_components/Layout";

type Props = { name: string; product: string; loginUrl: string };

export const subject = ({ name, product }: Props) => `Welcome to ${product}, ${name}!`;

export default function Welcome({ name, product, loginUrl }: Props) {
  return (
    <Layout preview={`Welcome to ${product}`} footer={`You received this email because you signed up for ${product}.`}>
      <Heading className="m-0 mb-4 text-2xl leading-8">Welcome, {name}!</Heading>
      <Text className="text-base">Thanks for joining {product}. Your account is ready.</Text>
      <Button className={buttonClass} href={loginUrl}>
        Get started
      </Button>
    </Layout>
  );
}
