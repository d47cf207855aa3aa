import { Column, Heading, Link, Row, Text } from "@react-email/components";
import { Layout } from "./_components/Layout";

type Article = { title: string; url: string; summary: string };
type Props = {
  name: string;
  product: string;
  weekOf: string;
  stats: { sent: number; delivered: number; opened: number };
  articles: Article[];
};

export const subject = ({ product, stats }: Props) => `Your week at ${product}: ${stats.sent} emails sent`;

function Stat({ figure, label }: { figure: number; label: string }) {
  return (
    <Column className="border-4 border-solid border-white bg-indigo-50 px-1 py-3 text-center">
      <Text className="m-0 text-xl font-bold text-indigo-600 max-sm:text-base">{figure}</Text>
      <Text className="m-0 text-xs text-zinc-500">{label}</Text>
    </Column>
  );
}

export default function WeeklyDigest({ name, product, weekOf, stats, articles }: Props) {
  return (
    <Layout preview={`Your week at ${product}`} footer={`You get this digest every Monday from ${product}.`}>
      <Heading className="m-0 mb-4 text-2xl leading-8">Your week at {product}</Heading>
      <Text className="text-base">
        Hi {name}, here is what happened the week of {weekOf}.
      </Text>
      <Row>
        <Stat figure={stats.sent} label="Sent" />
        <Stat figure={stats.delivered} label="Delivered" />
        <Stat figure={stats.opened} label="Opened" />
      </Row>
      <Heading as="h2" className="mb-2 mt-6 text-lg">
        Worth reading
      </Heading>
      {articles.map((article) => (
        <Text key={article.url} className="m-0 mb-4 text-base">
          <Link href={article.url} className="font-bold text-indigo-600">
            {article.title}
          </Link>
          <br />
          {article.summary}
        </Text>
      ))}
    </Layout>
  );
}
