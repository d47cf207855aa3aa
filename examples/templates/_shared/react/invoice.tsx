import { Button, Heading, Text } from "@react-email/components";
import { buttonClass, Layout } from "./_components/Layout";

type Item = { description: string; quantity: number; unitPrice: number };
type Props = {
  customerName: string;
  company: string;
  invoiceNumber: string;
  dueDate: string;
  currency: string;
  payUrl: string;
  total: number;
  items: Item[];
};

export const subject = ({ invoiceNumber, company }: Props) => `Invoice ${invoiceNumber} from ${company}`;

const cell = "border-0 border-b border-solid border-zinc-200 px-1 py-2";

export default function Invoice(props: Props) {
  const { customerName, company, invoiceNumber, dueDate, currency, payUrl, total, items } = props;
  return (
    <Layout preview={`Invoice ${invoiceNumber}`} footer={`${company} · invoice ${invoiceNumber}`}>
      <Heading className="m-0 mb-4 text-2xl leading-8">Invoice {invoiceNumber}</Heading>
      <Text className="text-base">
        Hi {customerName}, here is your invoice from {company}, due {dueDate}.
      </Text>
      <table role="presentation" className="w-full border-collapse text-sm max-sm:text-xs">
        <thead>
          <tr>
            <th className={`${cell} text-left`}>Description</th>
            <th className={`${cell} text-right`}>Qty</th>
            <th className={`${cell} text-right`}>Unit price</th>
            <th className={`${cell} text-right`}>Amount</th>
          </tr>
        </thead>
        <tbody>
          {items.map((item, i) => (
            <tr key={i}>
              <td className={cell}>{item.description}</td>
              <td className={`${cell} text-right`}>{item.quantity}</td>
              <td className={`${cell} text-right`}>{item.unitPrice.toFixed(2)}</td>
              <td className={`${cell} text-right`}>{(item.quantity * item.unitPrice).toFixed(2)}</td>
            </tr>
          ))}
          <tr>
            <td className="px-1 py-2 font-bold" colSpan={3}>
              Total ({currency})
            </td>
            <td className="px-1 py-2 text-right font-bold">{total.toFixed(2)}</td>
          </tr>
        </tbody>
      </table>
      <Button className={`${buttonClass} mt-4`} href={payUrl}>
        Pay invoice
      </Button>
    </Layout>
  );
}
